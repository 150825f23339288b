import { InvalidArgumentError } from "../errors.js";
import type { RunnableTaskRun, TaskRunner, TaskRunnerSession } from "./task-runner.js";

export interface ConcurrentTaskRunnerOptions {
  /** Most runs in progress at once, per flow run. @default Infinity */
  readonly maxConcurrency?: number;
}

/**
 * Runs submitted tasks concurrently on the event loop: while one awaits I/O, the
 * others proceed. The default task runner.
 *
 * @example
 * const crawl = flow({ taskRunner: new ConcurrentTaskRunner({ maxConcurrency: 16 }) }, async (urls: string[]) => {
 *   return fetchPage.map(urls).result();
 * });
 */
export class ConcurrentTaskRunner implements TaskRunner {
  readonly name: string = "concurrent";
  readonly maxConcurrency: number;

  constructor(options: ConcurrentTaskRunnerOptions = {}) {
    const max = options.maxConcurrency ?? Number.POSITIVE_INFINITY;
    if (max !== Number.POSITIVE_INFINITY && (!Number.isInteger(max) || max < 1)) {
      throw new InvalidArgumentError(
        `Expected \`maxConcurrency\` to be an integer >= 1, got \`${String(max)}\``,
      );
    }
    this.maxConcurrency = max;
  }

  start(): TaskRunnerSession {
    return new QueueSession(this.maxConcurrency);
  }
}

/**
 * A FIFO of submitted runs drained in one scheduled pass (one microtask per burst of
 * submissions, not one per run), starting runs while fewer than `max` are in progress.
 */
class QueueSession implements TaskRunnerSession {
  readonly #max: number;
  #queue: RunnableTaskRun[] = [];
  #head = 0;
  #active = 0;
  #scheduled = false;

  constructor(max: number) {
    this.#max = max;
  }

  submit(run: RunnableTaskRun): void {
    this.#queue.push(run);
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#drain);
    }
  }

  shutdown(): void {
    this.#queue = [];
    this.#head = 0;
  }

  readonly #drain = (): void => {
    this.#scheduled = false;
    const queue = this.#queue;
    const bounded = this.#max !== Number.POSITIVE_INFINITY;
    while (this.#head < queue.length && this.#active < this.#max) {
      const run = queue[this.#head] as RunnableTaskRun;
      queue[this.#head++] = undefined as unknown as RunnableTaskRun; // let finished runs be collected
      const pending = run.execute();
      if (pending && bounded) {
        this.#active += 1;
        pending.then(this.#release);
      }
    }
    if (this.#head === queue.length) {
      queue.length = 0;
      this.#head = 0;
    }
  };

  readonly #release = (): void => {
    this.#active -= 1;
    this.#drain();
  };
}
