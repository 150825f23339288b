import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type LocalEnvironment, S3ResultStore, startLocalEnvironment } from "squall/aws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADDRESS_VARIABLES } from "../../sdk/aws/address.js";
import { BucketRecordReader } from "../../sdk/aws/cli/bucket-record.js";
import { readOn, summarize } from "../../sdk/aws/cli/bucket-runs.js";
import { createCoordinator, openRunKey } from "../../sdk/aws/coordinator/coordinator.js";
import {
  DEFAULT_SILENT_AFTER_SECONDS,
  decodeHeartbeat,
  heartbeatKey,
} from "../../sdk/aws/record/heartbeat.js";
import { readSegments, readSummary } from "../../sdk/aws/record/run-log.js";
import { readRunKey } from "../../sdk/aws/wire/run-key.js";

const CALLER = fileURLToPath(new URL("../fixtures/killed-caller-flow.ts", import.meta.url));
const TASKS = 8;

let local: LocalEnvironment;
let store: S3ResultStore;

beforeAll(async () => {
  local = await startLocalEnvironment({ workers: 2, batchSize: 1 });
  const { bucket, endpoint, region } = local.address;
  store = new S3ResultStore({ bucket, endpoint, region });
});
afterAll(() => local?.stop());

/** The caller's process, run against the local environment; resolves its lines as they come. */
function startCaller(
  count: number,
  gate: string,
): {
  child: ChildProcess;
  lines: (until: (line: string) => boolean) => Promise<string[]>;
} {
  const address = local.address;
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    [ADDRESS_VARIABLES.taskQueueUrl]: address.taskQueueUrl,
    [ADDRESS_VARIABLES.completionQueueUrl]: address.completionQueueUrl,
    [ADDRESS_VARIABLES.bucket]: address.bucket,
    [ADDRESS_VARIABLES.endpoint]: address.endpoint,
    [ADDRESS_VARIABLES.region]: address.region,
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
  };
  const child = spawn(process.execPath, ["--import", "tsx", CALLER, String(count), gate], {
    cwd: fileURLToPath(new URL("../..", import.meta.url)),
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  let stderr = "";
  child.stderr?.on("data", (chunk) => {
    stderr += chunk;
  });
  const lines = (until: (line: string) => boolean) =>
    new Promise<string[]>((resolve, reject) => {
      const check = () => {
        const got = output.split("\n").filter(Boolean);
        if (got.some(until)) resolve(got);
      };
      child.stdout?.on("data", (chunk) => {
        output += chunk;
        check();
      });
      child.once("exit", (code) =>
        reject(new Error(`The caller exited (${code}) first:\n${output}${stderr}`)),
      );
      check();
    });
  return { child, lines };
}

/** Resolves once the record holds `count` completed outcomes of the run (the fleet finished). */
async function fleetFinished(flowRunId: string, count: number): Promise<void> {
  for (;;) {
    const { segments } = await readSegments(store, flowRunId, 0);
    const completed = segments.flatMap((s) => s.outcomes).filter((o) => o.status === "completed");
    if (completed.length >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("a caller killed halfway through its flow", () => {
  it("has its flow run ended Crashed by the sweep once its heartbeat is older than the default bound", async () => {
    const gate = join(await mkdtemp(join(tmpdir(), "squall-killed-caller-")), "gate");
    const caller = startCaller(TASKS, gate);
    const lines = await caller.lines((line) => line === `result ${TASKS / 2 - 1}`);
    caller.child.kill("SIGKILL");
    await writeFile(gate, "");
    const flowRunId = (lines.find((line) => line.startsWith("flow run ")) ?? "").slice("flow run ".length);
    expect(lines.filter((line) => line.startsWith("result "))).toEqual(
      Array.from({ length: TASKS / 2 }, (_, n) => `result ${n}`),
    );

    // The fleet finishes every task run; nothing ends the flow run.
    await fleetFinished(flowRunId, TASKS);
    expect(await store.exists(openRunKey(flowRunId))).toBe(true);
    expect((await readSummary(store, flowRunId))?.state).toBeUndefined();

    const runKey = await readRunKey((key) => store.get(key), flowRunId);
    const beatBytes = await store.get(heartbeatKey(flowRunId));
    const beat = runKey && beatBytes && decodeHeartbeat(runKey.key, flowRunId, beatBytes);
    if (!beat) throw new Error("the caller wrote no heartbeat signed with its run's key");
    expect(beat.silentAfterSeconds).toBe(DEFAULT_SILENT_AFTER_SECONDS);

    const coordinator = createCoordinator({ store });
    const bound = DEFAULT_SILENT_AFTER_SECONDS * 1000;
    expect(await coordinator.sweep(beat.at + bound)).toEqual({ swept: 0, callersSilent: 0 });
    expect(await coordinator.sweep(beat.at + bound + 1)).toEqual({ swept: 0, callersSilent: 1 });

    const summary = await readSummary(store, flowRunId);
    expect(summary).toMatchObject({
      state: "Crashed",
      counts: { completed: TASKS, failed: 0, crashed: 0, cancelled: 0 },
      returned: {
        flowRunId,
        flowName: "squares",
        state: "Crashed",
        message: `The caller stopped at ${new Date(beat.at).toISOString()}: no heartbeat for ${DEFAULT_SILENT_AFTER_SECONDS} seconds. Task runs it had sent finish and are recorded; it sent no others.`,
        tasks: 0,
        endedAt: beat.at,
      },
    });
    const { next } = await readSegments(store, flowRunId, 0);
    expect(summary?.nextSegment).toBe(next);
    expect(await store.exists(openRunKey(flowRunId))).toBe(false);

    // `squall runs`, `squall show` and the dashboard read it so.
    const reason = { name: "CrashedError", message: summary?.returned?.message };
    expect(await summarize(store, flowRunId)).toMatchObject({
      flowName: "squares",
      state: "Crashed",
      error: reason,
    });
    const { lines: read, final } = await readOn(store, flowRunId, new BucketRecordReader(flowRunId), 0);
    expect(final).toBe(true);
    expect(read.at(-1)).toMatchObject({ kind: "flow", state: "Crashed", error: reason });
  });
});
