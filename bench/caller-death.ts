// Time to a final state after a caller's death, with the default bound (`callerSilenceSeconds`,
// 180 s) and the stack's sweep schedule (every 5 minutes). A real caller process runs a flow on
// the local environment and is killed (SIGKILL) after its first result; the fleet finishes its
// task runs. Waiting out the bound for real would take minutes, so the sweep's clock is moved
// instead: for sweeps at evenly spaced phases of the schedule, the first sweep whose check
// (`CallerSilence`, a read only) ends the run gives the time from the kill to the final state;
// then one real sweep at the median's time ends the run, and its summary is checked.
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { type S3ResultStore, startLocalEnvironment } from "squall/aws";
import { ADDRESS_VARIABLES } from "../sdk/aws/address.js";
import { CallerSilence } from "../sdk/aws/coordinator/caller-silence.js";
import { createCoordinator } from "../sdk/aws/coordinator/coordinator.js";
import { DEFAULT_SILENT_AFTER_SECONDS } from "../sdk/aws/record/heartbeat.js";
import { openRunKey } from "../sdk/aws/record/open-runs.js";
import { readSegments, readSummary } from "../sdk/aws/record/run-log.js";
import { bucketStore } from "../sdk/aws/records/bucket-runs.js";
import { RunKeys } from "../sdk/aws/wire/run-key.js";

const CALLER = fileURLToPath(new URL("./dying-caller.ts", import.meta.url));
const TASKS = 6;
/** The stack's sweep schedule (cdk/squall.ts). */
const SWEEP_EVERY_MS = 5 * 60_000;
/** Phases of the schedule tried: where the kill falls between two sweeps. */
const PHASES = 60;

export interface CallerDeathFigures {
  readonly boundSeconds: number;
  readonly sweepEverySeconds: number;
  /** Seconds from the kill to the sweep that ends the run, over the phases. */
  readonly seconds: { readonly min: number; readonly median: number; readonly max: number };
  readonly finalState: string | undefined;
}

export async function benchCallerDeath(): Promise<CallerDeathFigures> {
  const local = await startLocalEnvironment({ workers: 2 });
  try {
    const { address } = local;
    const { s3, store } = bucketStore(address);
    const child = spawn(process.execPath, ["--import", "tsx", CALLER, String(TASKS)], {
      cwd: fileURLToPath(new URL("..", import.meta.url)),
      env: {
        ...process.env,
        [ADDRESS_VARIABLES.taskQueueUrl]: address.taskQueueUrl,
        [ADDRESS_VARIABLES.completionQueueUrl]: address.completionQueueUrl,
        [ADDRESS_VARIABLES.bucket]: address.bucket,
        [ADDRESS_VARIABLES.endpoint]: address.endpoint,
        [ADDRESS_VARIABLES.region]: address.region,
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const flowRunId = await firstResult(child);
    child.kill("SIGKILL");
    const killedAt = Date.now();
    await fleetFinished(store, flowRunId, TASKS);

    const runKeys = new RunKeys(async (key) => store.get(key));
    const silence = new CallerSilence(store, runKeys);
    const times: number[] = [];
    for (let phase = 0; phase < PHASES; phase++) {
      let sweepAt = killedAt + (phase * SWEEP_EVERY_MS) / PHASES;
      while (!(await silence.crashedNotice(flowRunId, openRunKey(flowRunId), sweepAt)))
        sweepAt += SWEEP_EVERY_MS;
      times.push((sweepAt - killedAt) / 1000);
    }
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)] as number;
    await createCoordinator({ store }).sweep(killedAt + median * 1000);
    const summary = await readSummary(store, flowRunId);
    const figures = {
      boundSeconds: DEFAULT_SILENT_AFTER_SECONDS,
      sweepEverySeconds: SWEEP_EVERY_MS / 1000,
      seconds: { min: times[0] as number, median, max: times.at(-1) as number },
      finalState: summary?.state,
    };
    s3.destroy();
    return figures;
  } finally {
    await local.stop();
  }
}

export function reportCallerDeath(f: CallerDeathFigures): string {
  const s = (n: number) => `${Math.round(n)} s`;
  return [
    `| bound | sweep every | kill to final state: min | median | max | state after |`,
    `|---|---|---|---|---|---|`,
    `| ${f.boundSeconds} s | ${f.sweepEverySeconds} s | ${s(f.seconds.min)} | ${s(f.seconds.median)} | ${s(f.seconds.max)} | ${f.finalState} |`,
  ].join("\n");
}

/** The caller's flow run id, once it printed its first result. */
function firstResult(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = "";
    child.stdout?.on("data", (chunk) => {
      output += chunk;
      const id = /flow run (\S+)/.exec(output)?.[1];
      if (id && output.includes("result 0")) resolve(id);
    });
    child.once("exit", (code) =>
      reject(new Error(`The caller exited (${code}) before its first result:\n${output}`)),
    );
  });
}

async function fleetFinished(store: S3ResultStore, flowRunId: string, count: number): Promise<void> {
  for (;;) {
    const { segments } = await readSegments(store, flowRunId, 0);
    if (segments.flatMap((s) => s.outcomes).filter((o) => o.status === "completed").length >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
