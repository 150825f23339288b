// The thread pool against ConcurrentTaskRunner, in this process: no-op throughput, async tasks
// that wait, the cost of a flow run's first task on a new runner, and the speed-up of CPU-bound
// work.
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { ConcurrentTaskRunner, flow, type TaskRunner, ThreadPoolTaskRunner } from "squall";
import { formatRate, type Sample, sample, throughput } from "./measure.js";
import { crunch, noopInThread, waitInThread } from "./tasks.js";

const NOOPS = 20_000;
const WAITS = 200;
const WAIT_MS = 100;
const CPU_TASKS = 8;
/** Total CPU work of the CPU-bound flow, in seconds of one core. */
const CPU_SECONDS = [1, 5] as const;

function noops(runner: TaskRunner) {
  return flow({ name: `thread-noops-${runner.name}`, taskRunner: runner }, async (count: number) => {
    const futures = [];
    for (let i = 0; i < count; i++) futures.push(noopInThread.submit(i));
    await Promise.all(futures.map((future) => future.result()));
  });
}

function waits(runner: TaskRunner) {
  return flow({ name: `thread-waits-${runner.name}`, taskRunner: runner }, async () => {
    await waitInThread.map(Array(WAITS).fill(WAIT_MS)).result();
  });
}

function oneTask(runner: TaskRunner) {
  return flow({ name: `one-task-${runner.name}`, taskRunner: runner }, async () => {
    await noopInThread.submit(1).result();
  });
}

function crunchAll(runner: TaskRunner, rounds: number) {
  return flow({ name: `crunch-${runner.name}`, taskRunner: runner }, async () => {
    await crunch.map(Array(CPU_TASKS).fill(rounds)).result();
  });
}

async function seconds(run: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await run();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** Rounds of `crunch` that take `ms` on this machine's main thread. */
function calibrate(ms: number): number {
  const probe = 5_000_000;
  crunch(probe); // compiled before it is timed
  const start = process.hrtime.bigint();
  crunch(probe);
  const took = Number(process.hrtime.bigint() - start) / 1e6;
  return Math.round((probe * ms) / took);
}

const PLAIN_CRUNCH = `
const { parentPort } = require("node:worker_threads");
parentPort.on("message", (rounds) => {
  let x = 1;
  for (let i = 0; i < rounds; i++) x = (x * 1103515245 + 12345) % 2147483648;
  parentPort.postMessage(x);
});`;

/**
 * What the machine gives at this moment: plain worker threads (no squall) doing the same work,
 * one per core against one alone. Other load on the machine shows here.
 */
class PlainThreads {
  readonly #threads = Array.from(
    { length: availableParallelism() },
    () => new Worker(PLAIN_CRUNCH, { eval: true }),
  );

  #run(thread: Worker, rounds: number): Promise<unknown> {
    return new Promise((resolve) => {
      thread.once("message", resolve);
      thread.postMessage(rounds);
    });
  }

  async speedUp(rounds: number): Promise<number> {
    const threads = this.#threads;
    await Promise.all(threads.map((thread) => this.#run(thread, 1_000_000)));
    const one = await seconds(async () => {
      for (let i = 0; i < CPU_TASKS; i++) await this.#run(threads[0] as Worker, rounds);
    });
    const all = await seconds(() =>
      Promise.all(
        threads.map(async (thread, t) => {
          for (let i = t; i < CPU_TASKS; i += threads.length) await this.#run(thread, rounds);
        }),
      ),
    );
    return one / all;
  }

  close(): Promise<unknown> {
    return Promise.all(this.#threads.map((thread) => thread.terminate()));
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

export interface CpuResult {
  readonly totalSeconds: number;
  /** Seconds of each runner, median over rounds. */
  readonly concurrentSeconds: number;
  readonly threadSeconds: number;
  /** Median over rounds of each round's ratio: each round runs both runners back to back. */
  readonly speedUp: number;
  /** Plain worker threads' speed-up on the same work, measured within each round too. */
  readonly plainSpeedUp: number;
}

/** Rounds of the CPU-bound comparison; each round runs every contender once, back to back. */
const CPU_ROUNDS = 3;

export interface ThreadResults {
  readonly workers: number;
  readonly concurrentNoops: Sample;
  readonly threadNoops: Sample;
  readonly concurrentWaits: Sample;
  readonly threadWaits: Sample;
  readonly concurrentOneTask: Sample;
  /** The first flow run on a pool of settings never used before in this process: threads start. */
  readonly oneTaskNewPool: Sample;
  /** A new runner whose settings an earlier flow run used: the process's pool is kept. */
  readonly oneTaskKeptPool: Sample;
  readonly cpu: readonly CpuResult[];
}

export async function benchThreads(): Promise<ThreadResults> {
  const workers = availableParallelism();
  const settings = { maxWorkers: workers };
  const concurrentNoops = await sample(5, () =>
    throughput(NOOPS, () => noops(new ConcurrentTaskRunner())(NOOPS)),
  );
  const threadNoops = await sample(5, () =>
    throughput(NOOPS, () => noops(new ThreadPoolTaskRunner(settings))(NOOPS)),
  );
  const concurrentWaits = await sample(5, () => seconds(() => waits(new ConcurrentTaskRunner())()));
  const threadWaits = await sample(5, () => seconds(() => waits(new ThreadPoolTaskRunner(settings))()));
  const concurrentOneTask = await sample(5, () => seconds(() => oneTask(new ConcurrentTaskRunner())()));
  // Each heap limit is a pool of its own: a new one starts its threads.
  let heapMb = 2000;
  const oneTaskNewPool = await sample(5, () =>
    seconds(() => oneTask(new ThreadPoolTaskRunner({ ...settings, maxWorkerMemoryMb: heapMb++ }))()),
  );
  const oneTaskKeptPool = await sample(5, () => seconds(() => oneTask(new ThreadPoolTaskRunner(settings))()));
  const cpu: CpuResult[] = [];
  const plain = new PlainThreads();
  try {
    for (const totalSeconds of CPU_SECONDS) {
      const rounds = calibrate((totalSeconds * 1000) / CPU_TASKS);
      await crunchAll(new ThreadPoolTaskRunner(settings), rounds)(); // warm-up
      const concurrent: number[] = [];
      const threads: number[] = [];
      const plainSpeedUps: number[] = [];
      for (let round = 0; round < CPU_ROUNDS; round++) {
        concurrent.push(await seconds(() => crunchAll(new ConcurrentTaskRunner(), rounds)()));
        threads.push(await seconds(() => crunchAll(new ThreadPoolTaskRunner(settings), rounds)()));
        plainSpeedUps.push(await plain.speedUp(rounds));
      }
      cpu.push({
        totalSeconds,
        concurrentSeconds: median(concurrent),
        threadSeconds: median(threads),
        speedUp: median(concurrent.map((c, i) => c / (threads[i] as number))),
        plainSpeedUp: median(plainSpeedUps),
      });
    }
  } finally {
    await plain.close();
  }
  return {
    workers,
    concurrentNoops,
    threadNoops,
    concurrentWaits,
    threadWaits,
    concurrentOneTask,
    oneTaskNewPool,
    oneTaskKeptPool,
    cpu,
  };
}

export function reportThreads(r: ThreadResults): string {
  const rate = (s: Sample) => `${formatRate(s.median)} (${formatRate(s.min)} - ${formatRate(s.max)})`;
  const ms = (s: Sample) =>
    `${(s.median * 1000).toFixed(2)} (${(s.min * 1000).toFixed(2)} - ${(s.max * 1000).toFixed(2)})`;
  const times = (s: Sample, base: Sample) => `${(s.median / base.median).toFixed(1)}x`;
  return [
    `ThreadPoolTaskRunner with ${r.workers} workers (median of 5, range in brackets)`,
    "",
    `${NOOPS.toLocaleString("en-US")} no-op task runs per flow run:`,
    "",
    "| runner | runs per second | ratio to ConcurrentTaskRunner |",
    "|---|---|---|",
    `| ConcurrentTaskRunner (baseline, same process) | ${rate(r.concurrentNoops)} | 1.000 |`,
    `| ThreadPoolTaskRunner | ${rate(r.threadNoops)} | ${(r.threadNoops.median / r.concurrentNoops.median).toFixed(3)} |`,
    "",
    `${WAITS} async tasks that each wait ${WAIT_MS} ms, in one flow run:`,
    "",
    "| runner | ms | time against ConcurrentTaskRunner |",
    "|---|---|---|",
    `| ConcurrentTaskRunner (baseline) | ${ms(r.concurrentWaits)} | 1.00x |`,
    `| ThreadPoolTaskRunner | ${ms(r.threadWaits)} | ${times(r.threadWaits, r.concurrentWaits)} |`,
    "",
    "A flow run with one no-op task, on a new runner:",
    "",
    "| runner | ms | time against ConcurrentTaskRunner |",
    "|---|---|---|",
    `| ConcurrentTaskRunner (baseline) | ${ms(r.concurrentOneTask)} | 1.00x |`,
    `| ThreadPoolTaskRunner, settings new to the process (its threads start) | ${ms(r.oneTaskNewPool)} | ${times(r.oneTaskNewPool, r.concurrentOneTask)} |`,
    `| ThreadPoolTaskRunner, settings an earlier flow run used (pool kept) | ${ms(r.oneTaskKeptPool)} | ${times(r.oneTaskKeptPool, r.concurrentOneTask)} |`,
    "",
    `CPU-bound: ${CPU_TASKS} tasks sharing the total work, a new runner per flow run (median of ${CPU_ROUNDS} rounds, each running every contender back to back):`,
    "",
    "| total work | ConcurrentTaskRunner s (baseline) | ThreadPoolTaskRunner s | speed-up | plain worker threads' speed-up (what the machine gave) |",
    "|---|---|---|---|---|",
    ...r.cpu.map(
      (c) =>
        `| ${c.totalSeconds} s | ${c.concurrentSeconds.toFixed(2)} | ${c.threadSeconds.toFixed(2)} | ${c.speedUp.toFixed(2)}x | ${c.plainSpeedUp.toFixed(2)}x |`,
    ),
  ].join("\n");
}
