import { availableParallelism } from "node:os";
import { InvalidArgumentError } from "../errors.js";
import type { Offload } from "../serialization/stored.js";
import { shareStore } from "../storage/open-store.js";
import type { ResultStore } from "../storage/result-store.js";
import type { RunnableTaskRun, TaskRunner, TaskRunnerSession } from "./task-runner.js";
import { WorkerPool } from "./threads/pool.js";

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
}

/**
 * Runs submitted tasks in a pool of worker threads, in parallel on every core. Each thread
 * imports the module that defines a task and finds it by name; arguments and results cross
 * through the task's serializer. A thread that crashes fails only its run (Crashed) and is
 * replaced; deadlines and cancellation stop a runaway task by stopping its thread.
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
  readonly #offload: Offload | undefined;
  #pool: WorkerPool | undefined;
  #sessions = 0;

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
    this.maxWorkers = workers;
    this.maxWorkerMemoryMb = memory;
    this.#offload = offloadOf(options);
  }

  /** The pool starts with the first flow run using this runner and stops when the last one ends. */
  start(): TaskRunnerSession {
    this.#pool ??= new WorkerPool({
      workers: this.maxWorkers,
      memoryMb: this.maxWorkerMemoryMb,
      offload: this.#offload,
    });
    this.#sessions += 1;
    const pool = this.#pool;
    return {
      submit: (run: RunnableTaskRun) => {
        run.checkArguments(); // throws at .submit() for a value that cannot cross to a thread
        run.execute(pool);
      },
      shutdown: async () => {
        this.#sessions -= 1;
        if (this.#sessions === 0 && this.#pool === pool) {
          this.#pool = undefined;
          await pool.close();
        }
      },
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
