import { availableParallelism } from "node:os";
import { InvalidArgumentError } from "../errors.js";
import type { RunnableTaskRun, TaskRunner, TaskRunnerSession } from "./task-runner.js";
import { WorkerPool } from "./threads/pool.js";

export interface ThreadPoolTaskRunnerOptions {
  /** Worker threads in the pool. @default one per core */
  readonly maxWorkers?: number;
  /** Heap limit of each thread; a task that needs more ends Crashed, not the process. @default 4096 */
  readonly maxWorkerMemoryMb?: number;
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
  }

  /** The pool starts with the first flow run using this runner and stops when the last one ends. */
  start(): TaskRunnerSession {
    this.#pool ??= new WorkerPool({ workers: this.maxWorkers, memoryMb: this.maxWorkerMemoryMb });
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
