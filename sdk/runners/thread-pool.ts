import { availableParallelism } from "node:os";
import { InvalidArgumentError } from "../errors.js";
import type { Offload } from "../serialization/stored.js";
import { shareStore } from "../storage/open-store.js";
import type { ResultStore } from "../storage/result-store.js";
import { checkTagLimits, limitedInvoker, type TagLimits, TagSlots } from "./tag-slots.js";
import type { RunnableTaskRun, TaskRunner, TaskRunnerSession } from "./task-runner.js";
import { RUNS_PER_THREAD, WorkerPool } from "./threads/pool.js";

export interface ThreadPoolTaskRunnerOptions {
  /** Worker threads in the pool. @default one per core */
  readonly maxWorkers?: number;
  /** Heap limit of each thread; a task that needs more ends Crashed, not the process. @default 4096 */
  readonly maxWorkerMemoryMb?: number;
  /**
   * A shared store (one with a `locator`, such as a FileResultStore) where arguments and results
   * larger than `offloadAboveBytes` go: they then travel by reference, and a stored result
   * passes to a downstream task without being copied through the flow. @default none
   */
  readonly offloadStore?: ResultStore;
  /** @default 1 MiB */
  readonly offloadAboveBytes?: number;
  /**
   * Runs each thread holds at once. Async runs interleave on the thread's event loop; a
   * synchronous (CPU-bound) run holds the thread, and the other runs on it wait for it to
   * return. Runs go to the thread holding fewest. @default 100
   */
  readonly maxRunsPerWorker?: number;
  /**
   * Most runs carrying a tag that run at once, by tag, across every flow run this runner serves
   * (Prefect's task concurrency limits). A run with several limited tags takes a slot of each;
   * each attempt takes them as it starts and gives them back as it ends. @default {}
   */
  readonly tagLimits?: TagLimits;
}

/**
 * The pools of this process, one per thread count, heap limit and runs per thread: started by
 * the first flow run that needs one and kept for the next (idle threads never keep the process
 * alive), so that only the first flow run of a process waits for threads to start.
 */
const pools = new Map<string, WorkerPool>();

/**
 * Runs submitted tasks in a pool of worker threads, in parallel on every core. Each thread
 * imports the module that defines a task and finds it by name; arguments and results cross
 * through the task's serializer. A thread runs many runs at once (async ones interleave on its
 * event loop); runs go to the thread holding fewest. The threads start with the first flow run
 * that uses them and are kept, shared by the runners of the process with the same settings.
 * A thread that crashes fails the runs it had started (Crashed) and is replaced. A run with a
 * timeout has its thread to itself; a cancelled run sees its signal aborted, and one that does
 * not end is stopped with its thread (the other runs it had started there end Crashed).
 *
 * @example
 * const crunch = flow({ taskRunner: new ThreadPoolTaskRunner() }, async (inputs: number[]) => {
 *   return hash.map(inputs).result();
 * });
 */
export class ThreadPoolTaskRunner implements TaskRunner {
  readonly name = "threads";
  readonly maxWorkers: number;
  readonly maxWorkerMemoryMb: number;
  readonly maxRunsPerWorker: number;
  /** The limits by tag, held across the flow runs this runner serves. */
  readonly tagLimits: TagLimits;
  readonly #offload: Offload | undefined;
  readonly #slots: TagSlots | undefined;

  constructor(options: ThreadPoolTaskRunnerOptions = {}) {
    const workers = options.maxWorkers ?? availableParallelism();
    if (!Number.isInteger(workers) || workers < 1) {
      throw new InvalidArgumentError(
        `Expected \`maxWorkers\` to be an integer >= 1, got \`${String(workers)}\``,
      );
    }
    const memory = options.maxWorkerMemoryMb ?? 4096;
    if (!Number.isInteger(memory) || memory < 16) {
      throw new InvalidArgumentError(
        `Expected \`maxWorkerMemoryMb\` to be an integer >= 16, got \`${String(memory)}\``,
      );
    }
    const runs = options.maxRunsPerWorker ?? RUNS_PER_THREAD;
    if (!Number.isInteger(runs) || runs < 1) {
      throw new InvalidArgumentError(
        `Expected \`maxRunsPerWorker\` to be an integer >= 1, got \`${String(runs)}\``,
      );
    }
    this.maxRunsPerWorker = runs;
    this.maxWorkers = workers;
    this.maxWorkerMemoryMb = memory;
    this.#offload = offloadOf(options);
    this.tagLimits = checkTagLimits(options.tagLimits) ?? {};
    this.#slots = Object.keys(this.tagLimits).length > 0 ? new TagSlots(this.tagLimits) : undefined;
  }

  /**
   * The process's pool for these settings starts with the first flow run that needs it, and is
   * kept for the next: its idle threads never keep the process alive.
   */
  start(): TaskRunnerSession {
    const key = `${this.maxWorkers}/${this.maxWorkerMemoryMb}/${this.maxRunsPerWorker}`;
    let pool = pools.get(key);
    if (!pool) {
      pool = new WorkerPool({
        workers: this.maxWorkers,
        memoryMb: this.maxWorkerMemoryMb,
        runsPerThread: this.maxRunsPerWorker,
      });
      pools.set(key, pool);
    }
    const pooled = pool.invoker(this.#offload);
    const invoker = this.#slots ? limitedInvoker(pooled, this.#slots) : pooled;
    return {
      submit: (run: RunnableTaskRun) => {
        run.checkArguments(); // throws at .submit() for a value that cannot cross to a thread
        run.execute(invoker);
      },
      shutdown: async () => {},
    };
  }
}

function offloadOf(options: ThreadPoolTaskRunnerOptions): Offload | undefined {
  const { offloadStore: store, offloadAboveBytes: aboveBytes = 1024 * 1024 } = options;
  if (!Number.isInteger(aboveBytes) || aboveBytes < 0) {
    throw new InvalidArgumentError(
      `Expected \`offloadAboveBytes\` to be an integer >= 0, got \`${String(aboveBytes)}\``,
    );
  }
  if (store === undefined) return undefined;
  if (!store.locator) {
    throw new InvalidArgumentError(
      "Expected `offloadStore` to be a store other threads can open (one with a `locator`, such as a FileResultStore); a MemoryResultStore lives in one thread only.",
    );
  }
  shareStore(store as Offload["store"]);
  return { store: store as Offload["store"], aboveBytes };
}
