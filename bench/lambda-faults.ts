// The Lambda runner on the local environment while the emulator fails a share of every S3 and SQS
// request with 500 or 503 (its fault layer, `injectFaults`): throughput and AWS requests per task
// at 0%, 10% and 30% faults, one flow run at each rate, on one kept environment: 20,000 no-op task
// runs 50 a message (the default), and 5,000 one a message (the most requests a task). Each run is checked as the tests check it: every future Completed with its value,
// the record's summary final, Completed, with one outcome per task run.
import { flow } from "squall";
import { LambdaTaskRunner, type LocalEnvironment, S3ResultStore, startLocalEnvironment } from "squall/aws";
import { readSummary } from "../sdk/aws/record/run-log.js";
import { countEmulatorRequests, type EmulatorRequestCounter, type ServedRequests } from "./count-requests.js";
import { noopInLambda } from "./lambda-tasks.js";
import { formatRate } from "./measure.js";

/** Each series: task runs per flow run, and task runs per message. */
const SERIES = [
  { tasks: 20_000, tasksPerMessage: 50 },
  { tasks: 5_000, tasksPerMessage: 1 },
] as const;
const RATES = [0, 0.1, 0.3] as const;
/**
 * Flow runs at each rate; the table gives the median (by time) and each round's time. One keeps
 * the benchmark to about a minute, most of it the runs of one task a message at 30%.
 * `LAMBDA_FAULT_ROUNDS=3` for steadier figures (about 2 minutes).
 */
const ROUNDS = Number(process.env.LAMBDA_FAULT_ROUNDS ?? 1);
/** How long a run's summary may take to become final after its flow returned. */
const SUMMARY_WAIT_MS = 120_000;

export interface FaultRun {
  /** The rounds' times, in order. */
  readonly rounds: readonly number[];
  readonly tasks: number;
  readonly tasksPerMessage: number;
  /** The share of requests failed. */
  readonly rate: number;
  /** From the flow's start to its return. */
  readonly seconds: number;
  /** From the flow's start until the record's summary was final. */
  readonly finalSeconds: number;
  /** Requests the emulator served, failed ones included, per task. */
  readonly requestsPerTask: number;
  /** Of which answered with an error (injected or not), per task. */
  readonly errorsPerTask: number;
  readonly faultsInjected: number;
}

export interface FaultResults {
  readonly workers: number;
  readonly runs: readonly FaultRun[];
}

function fanOut(runner: LambdaTaskRunner) {
  return flow({ name: "lambda-bench-faults", taskRunner: runner }, async (count: number) => {
    const range = Array.from({ length: count }, (_, i) => i);
    const results = await noopInLambda.map(range).result();
    if (results.some((value, i) => value !== i)) throw new Error("A task run gave the wrong value.");
    return results.length;
  });
}

async function finalSummaryOf(store: S3ResultStore, flowRunId: string) {
  for (const end = Date.now() + SUMMARY_WAIT_MS; Date.now() < end; ) {
    // The faults are still on: a read that fails after the SDK's retries is tried again.
    const summary = await readSummary(store, flowRunId).catch(() => undefined);
    if (summary?.state !== undefined) return summary;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(
    `Flow run ${flowRunId}'s summary was not final ${SUMMARY_WAIT_MS / 1000} s after it returned.`,
  );
}

const total = (rows: readonly ServedRequests[], pick: (row: ServedRequests) => number) =>
  rows.reduce((sum, row) => sum + pick(row), 0);

/** What every measured run uses: the kept environment, the request counter, a store to read records with. */
interface Bench {
  readonly local: LocalEnvironment;
  readonly served: EmulatorRequestCounter;
  readonly store: S3ResultStore;
}

/** One flow run of `tasks` at `rate` faults, checked against its record. */
async function measure(
  { local, served, store }: Bench,
  run: ReturnType<typeof fanOut>,
  tasks: number,
  tasksPerMessage: number,
  rate: number,
): Promise<Omit<FaultRun, "rounds">> {
  await new Promise((resolve) => setTimeout(resolve, 1_000)); // the last run's end is recorded
  served.take();
  const faultsBefore = local.emulator.faultsInjected;
  local.injectFaults(rate > 0 ? { rate } : undefined);
  const start = performance.now();
  const state = await run.run(tasks);
  const seconds = (performance.now() - start) / 1000;
  const at = `At ${rate * 100}% faults, ${tasks} tasks ${tasksPerMessage} a message,`;
  if (state.type !== "COMPLETED") throw new Error(`${at} the flow run ended ${state.name}.`);
  const summary = await finalSummaryOf(store, state.flowRun.id);
  const finalSeconds = (performance.now() - start) / 1000;
  local.injectFaults(undefined);
  if (summary.state !== "Completed" || summary.counts.completed !== tasks) {
    throw new Error(`${at} the record says ${summary.state}, ${JSON.stringify(summary.counts)}.`);
  }
  const rows = served.take();
  return {
    tasks,
    tasksPerMessage,
    rate,
    seconds,
    finalSeconds,
    requestsPerTask: total(rows, (row) => row.requests) / tasks,
    errorsPerTask: total(rows, (row) => row.errors) / tasks,
    faultsInjected: local.emulator.faultsInjected - faultsBefore,
  };
}

export async function benchLambdaFaults(): Promise<FaultResults> {
  // Counting starts before the environment: the counter finds the emulator as it is built.
  const served = countEmulatorRequests();
  const workers = 2;
  let local: LocalEnvironment | undefined;
  let client: ReturnType<LocalEnvironment["emulator"]["s3Client"]> | undefined;
  try {
    local = await startLocalEnvironment({ workers });
    client = local.emulator.s3Client();
    const { bucket, endpoint, region } = local.address;
    const bench: Bench = {
      local,
      served,
      store: new S3ResultStore({ bucket, endpoint, region, client }),
    };
    const runs: FaultRun[] = [];
    for (const { tasks, tasksPerMessage } of SERIES) {
      const run = fanOut(new LambdaTaskRunner({ ...local.address, tasksPerMessage }));
      await run(tasks); // warm: the threads import the tasks module, the pollers scale up
      for (const rate of RATES) {
        const measured: Omit<FaultRun, "rounds">[] = [];
        for (let round = 0; round < ROUNDS; round++) {
          measured.push(await measure(bench, run, tasks, tasksPerMessage, rate));
        }
        const sorted = [...measured].sort((a, b) => a.seconds - b.seconds);
        const median = sorted[Math.floor(sorted.length / 2)] as Omit<FaultRun, "rounds">;
        runs.push({ ...median, rounds: measured.map((m) => m.seconds) });
      }
    }
    return { workers, runs };
  } finally {
    client?.destroy();
    served.stop();
    await local?.stop();
  }
}

export function reportLambdaFaults(r: FaultResults): string {
  const rate = (run: FaultRun) => run.tasks / run.seconds;
  const baseOf = (run: FaultRun) =>
    r.runs.find((other) => other.rate === 0 && other.tasksPerMessage === run.tasksPerMessage);
  return [
    `LambdaTaskRunner on the local environment (${r.workers} worker threads), one flow run of no-op task runs per fault rate;`,
    "the emulator fails that share of every S3 and SQS request with 500 or 503. Every run checked: each future",
    "Completed with its value, the record's summary final and Completed with one outcome each.",
    "",
    `Median of ${ROUNDS} flow run${ROUNDS === 1 ? "" : "s"} at each rate (each round's time in brackets); requests counted at the emulator, from every thread.`,
    "",
    "| task runs (a message) | faults | flow run (rounds) | tasks per second (ratio to 0%) | summary final after | requests per task (ratio to 0%) | failed requests per task | faults injected |",
    "|---|---|---|---|---|---|---|---|",
    ...r.runs.map((run) => {
      const base = baseOf(run) ?? run;
      return `| ${run.tasks.toLocaleString("en-US")} (${run.tasksPerMessage}) | ${run.rate * 100}% | ${run.seconds.toFixed(2)} s (${run.rounds.map((t) => t.toFixed(2)).join(", ")}) | ${formatRate(rate(run))} (${(rate(run) / rate(base)).toFixed(3)}) | ${run.finalSeconds.toFixed(2)} s | ${run.requestsPerTask.toFixed(4)} (${(run.requestsPerTask / base.requestsPerTask).toFixed(2)}) | ${run.errorsPerTask.toFixed(4)} | ${run.faultsInjected.toLocaleString("en-US")} |`;
    }),
  ].join("\n");
}
