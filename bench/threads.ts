// The thread pool: no-op throughput against the concurrent runner, and the speed-up of
// CPU-bound work, both in this process.
import { availableParallelism } from "node:os";
import { ConcurrentTaskRunner, flow, type TaskRunner, ThreadPoolTaskRunner } from "squall";
import { formatRate, type Sample, sample, throughput } from "./measure.js";
import { crunch, noopInThread } from "./tasks.js";

const NOOPS = 20_000;
const CPU_TASKS = 8;
const CPU_ROUNDS = 20_000_000;

function noops(runner: TaskRunner) {
  return flow({ name: `thread-noops-${runner.name}`, taskRunner: runner }, async (count: number) => {
    const futures = [];
    for (let i = 0; i < count; i++) futures.push(noopInThread.submit(i));
    await Promise.all(futures.map((future) => future.result()));
  });
}

function crunchAll(runner: TaskRunner) {
  return flow({ name: `crunch-${runner.name}`, taskRunner: runner }, async () => {
    await crunch.map(Array(CPU_TASKS).fill(CPU_ROUNDS)).result();
  });
}

export interface ThreadResults {
  readonly workers: number;
  readonly concurrentNoops: Sample;
  readonly threadNoopsWarm: Sample;
  readonly threadNoopsCold: Sample;
  readonly concurrentCpuSeconds: Sample;
  readonly threadCpuSeconds: Sample;
}

export async function benchThreads(): Promise<ThreadResults> {
  const workers = availableParallelism();
  const pool = new ThreadPoolTaskRunner({ maxWorkers: workers });
  const concurrentNoops = await sample(5, () =>
    throughput(NOOPS, () => noops(new ConcurrentTaskRunner())(NOOPS)),
  );
  // Cold: each flow run starts and stops the pool. Warm: an enclosing flow keeps it running.
  const threadNoopsCold = await sample(5, () => throughput(NOOPS, () => noops(pool)(NOOPS)));
  let threadNoopsWarm: Sample | undefined;
  await flow({ name: "keep-pool-warm", taskRunner: pool }, async () => {
    threadNoopsWarm = await sample(5, () => throughput(NOOPS, () => noops(pool)(NOOPS)));
  })();
  const seconds = async (run: () => Promise<unknown>) => {
    const start = process.hrtime.bigint();
    await run();
    return Number(process.hrtime.bigint() - start) / 1e9;
  };
  const concurrentCpuSeconds = await sample(3, () => seconds(() => crunchAll(new ConcurrentTaskRunner())()));
  const threadCpuSeconds = await sample(3, () => seconds(() => crunchAll(pool)()));
  return {
    workers,
    concurrentNoops,
    threadNoopsWarm: threadNoopsWarm as Sample,
    threadNoopsCold,
    concurrentCpuSeconds,
    threadCpuSeconds,
  };
}

export function reportThreads(r: ThreadResults): string {
  const rate = (s: Sample) => `${formatRate(s.median)} (${formatRate(s.min)} - ${formatRate(s.max)})`;
  const ratio = (s: Sample) => (s.median / r.concurrentNoops.median).toFixed(3);
  return [
    `ThreadPoolTaskRunner with ${r.workers} workers: ${NOOPS.toLocaleString("en-US")} no-op task runs per flow run (median of 5)`,
    "",
    "| runner | runs per second (range) | ratio to ConcurrentTaskRunner |",
    "|---|---|---|",
    `| ConcurrentTaskRunner (baseline, same process) | ${rate(r.concurrentNoops)} | 1.000 |`,
    `| ThreadPoolTaskRunner, pool already running | ${rate(r.threadNoopsWarm)} | ${ratio(r.threadNoopsWarm)} |`,
    `| ThreadPoolTaskRunner, pool started per flow run | ${rate(r.threadNoopsCold)} | ${ratio(r.threadNoopsCold)} |`,
    "",
    `CPU-bound: ${CPU_TASKS} tasks of ${CPU_ROUNDS.toLocaleString("en-US")} multiply-adds each (median of 3)`,
    "",
    "| runner | seconds | speed-up |",
    "|---|---|---|",
    `| ConcurrentTaskRunner (baseline) | ${r.concurrentCpuSeconds.median.toFixed(2)} | 1.00x |`,
    `| ThreadPoolTaskRunner | ${r.threadCpuSeconds.median.toFixed(2)} | ${(r.concurrentCpuSeconds.median / r.threadCpuSeconds.median).toFixed(2)}x |`,
  ].join("\n");
}
