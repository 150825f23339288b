// Completion latency of short runs mixed with long ones: 10 ms runs submitted together with 2 s
// runs, packed into the same messages (tasksPerMessage 50). Each short run's latency is the time
// from its submission to its future settling. The baseline is the same flow on
// ConcurrentTaskRunner in the same process, where a run settles as it ends. A worker that
// reported a message's runs only when all of them ended would hold the short ones ~2 s.
import { ConcurrentTaskRunner, flow, type TaskRunner } from "squall";
import { LambdaTaskRunner, startLocalEnvironment } from "squall/aws";
import { sleepInLambda } from "./lambda-tasks.js";

const SHORT_MS = 10;
const LONG_MS = 2_000;
/** Short runs per round, and one long run after every `EVERY` short ones. */
const SHORT = 400;
const EVERY = 20;
const ROUNDS = 3;

export interface Percentiles {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export interface MixedLatencyFigures {
  readonly short: number;
  readonly long: number;
  readonly concurrent: Percentiles;
  readonly lambda: Percentiles;
}

/** The short runs' latencies (ms) of one flow run on `runner`. */
function mixedFlow(runner: TaskRunner) {
  return flow({ name: "mixed-latency", taskRunner: runner }, async function mixed() {
    const latencies: Promise<number>[] = [];
    const longs: Promise<unknown>[] = [];
    for (let i = 0; i < SHORT; i++) {
      if (i % EVERY === 0) longs.push(sleepInLambda.submit(LONG_MS).result());
      const submitted = performance.now();
      latencies.push(
        sleepInLambda
          .submit(SHORT_MS)
          .result()
          .then(() => performance.now() - submitted),
      );
    }
    const settled = await Promise.all(latencies);
    await Promise.all(longs);
    return settled;
  });
}

function percentiles(millis: readonly number[]): Percentiles {
  const sorted = [...millis].sort((a, b) => a - b);
  const rank = (p: number) => sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] as number;
  return { p50: rank(0.5), p99: rank(0.99), max: sorted[sorted.length - 1] as number };
}

async function rounds(run: () => Promise<number[]>): Promise<Percentiles> {
  await run(); // warm-up: the threads import the tasks module
  const all: number[] = [];
  for (let i = 0; i < ROUNDS; i++) all.push(...(await run()));
  return percentiles(all);
}

export async function benchMixedLatency(): Promise<MixedLatencyFigures> {
  const concurrent = await rounds(mixedFlow(new ConcurrentTaskRunner()));
  const local = await startLocalEnvironment({ workers: 2 });
  try {
    const lambda = await rounds(mixedFlow(new LambdaTaskRunner({ ...local.address, tasksPerMessage: 50 })));
    return { short: SHORT, long: SHORT / EVERY, concurrent, lambda };
  } finally {
    await local.stop();
  }
}

export function reportMixedLatency(figures: MixedLatencyFigures): string {
  const row = (name: string, p: Percentiles) =>
    `| ${name} | ${p.p50.toFixed(1)} ms | ${p.p99.toFixed(1)} ms | ${p.max.toFixed(1)} ms | ${(p.p99 / figures.concurrent.p99).toFixed(2)} |`;
  return [
    `${figures.short} runs of ${SHORT_MS} ms with ${figures.long} runs of ${LONG_MS / 1000} s among them, submitted together`,
    `(packed 50 to a message on the Lambda runner), ${ROUNDS} rounds after a warm-up: latency of the ${SHORT_MS} ms runs`,
    "from submission to result.",
    "",
    "| runner | p50 | p99 | max | p99 ratio to concurrent |",
    "|---|---|---|---|---|",
    row("ConcurrentTaskRunner (baseline, same process)", figures.concurrent),
    row("LambdaTaskRunner, local environment, 2 worker threads", figures.lambda),
    "",
    `Target: p99 under 200 ms on the local environment: ${figures.lambda.p99 < 200 ? "met" : "not met"}.`,
  ].join("\n");
}
