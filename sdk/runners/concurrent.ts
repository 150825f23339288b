import { InvalidArgumentError } from "../errors.js";
import { checkTagLimits, type TagLimits, TagSlots } from "./tag-slots.js";
import type { RunnableTaskRun, TaskRunner, TaskRunnerSession } from "./task-runner.js";

export interface ConcurrentTaskRunnerOptions {
  /** Most runs in progress at once, per flow run. @default Infinity */
  readonly maxConcurrency?: number;
  /**
   * Most runs carrying a tag that run at once, by tag, across every flow run this runner serves
   * (Prefect's task concurrency limits). A run with several limited tags takes a slot of each.
   * @default {}
   */
  readonly tagLimits?: TagLimits;
}

/**
 * Runs submitted tasks concurrently on the event loop: while one awaits I/O, the
 * others proceed. The default task runner.
 *
 * @example
 * const crawl = flow({ taskRunner: new ConcurrentTaskRunner({ maxConcurrency: 16 }) }, async (urls: string[]) => {
 *   return fetchPage.map(urls).result();
 * });
 *
 * // At most 2 runs of tasks tagged "db" at once, whatever else runs.
 * const load = flow({ taskRunner: new ConcurrentTaskRunner({ tagLimits: { db: 2 } }) }, async (ids: number[]) => {
 *   return query.map(ids).result(); // query = task({ tags: ["db"] }, ...)
 * });
 */
export class ConcurrentTaskRunner implements TaskRunner {
  readonly name: string = "concurrent";
  readonly maxConcurrency: number;
  /** The limits by tag, held across the flow runs this runner serves. */
  readonly tagLimits: TagLimits;
  readonly #slots: TagSlots | undefined;

  constructor(options: ConcurrentTaskRunnerOptions = {}) {
    const max = options.maxConcurrency ?? Number.POSITIVE_INFINITY;
    if (max !== Number.POSITIVE_INFINITY && (!Number.isInteger(max) || max < 1)) {
      throw new InvalidArgumentError(
        `Expected \`maxConcurrency\` to be an integer >= 1, got \`${String(max)}\``,
      );
    }
    this.maxConcurrency = max;
    this.tagLimits = checkTagLimits(options.tagLimits) ?? {};
    this.#slots = Object.keys(this.tagLimits).length > 0 ? new TagSlots(this.tagLimits) : undefined;
  }

  start(): TaskRunnerSession {
    return new QueueSession(this.maxConcurrency, this.#slots);
  }
}

/**
 * A FIFO of submitted runs drained in one scheduled pass (one microtask per burst of
 * submissions, not one per run), starting runs while fewer than `max` are in progress.
 */
class QueueSession implements TaskRunnerSession {
  readonly #max: number;
  readonly #slots: TagSlots | undefined;
  #queue: RunnableTaskRun[] = [];
  #head = 0;
  #active = 0;
  #scheduled = false;

  constructor(max: number, slots: TagSlots | undefined) {
    this.#max = max;
    this.#slots = slots;
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
      const limited = this.#slots?.limited(run.tags) ?? [];
      if (limited.length > 0) {
        // Waits for a slot of each limited tag, counted as in progress while it waits.
        this.#active += 1;
        void this.#withSlots(run, limited).then(this.#release);
        continue;
      }
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

  async #withSlots(run: RunnableTaskRun, tags: readonly string[]): Promise<void> {
    const release = await (this.#slots as TagSlots).acquire(tags);
    try {
      await run.execute();
    } finally {
      release();
    }
  }

  readonly #release = (): void => {
    this.#active -= 1;
    this.#drain();
  };
}
