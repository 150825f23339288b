import type { TaskRun } from "./engine/task-run.js";
import { InvalidArgumentError, SquallError, toError } from "./errors.js";
import type { TaskFuture } from "./futures.js";

/**
 * Options of `task.mapStream()`.
 *
 * @example
 * const resized = resize.mapStream(listKeys(bucket), { maxInFlight: 200, args: [{ width: 640 }] });
 */
export interface MapStreamOptions<Rest extends unknown[] = unknown[]> {
  /**
   * The most runs taken from the items and not yet handed to the reader: the stream pulls the
   * next item only when a place frees up, so memory stays bounded however many items come.
   * @default 1000
   */
  readonly maxInFlight?: number;
  /** The task's other arguments, after the mapped one: the same for every run. @default [] */
  readonly args?: Rest;
}

const DEFAULT_MAX_IN_FLIGHT = 1000;

/**
 * The runs of a `task.mapStream()`: one run per item of a (possibly async, possibly endless)
 * iterable, started only as fast as the reader takes finished ones, never more than
 * `maxInFlight` at once. Read it once, in one of three ways:
 *
 * - `for await (const value of stream)`: each result, in input order; the first failure in input
 *   order is thrown;
 * - `stream.futures()`: each finished run's future, in input order (failures are for you to read);
 * - `stream.asCompleted()`: each finished run's future, first finished first.
 *
 * Nothing is pulled from the items before the stream is read, and a finished run is let go as
 * soon as it has been handed over, so a reader can reduce over a million results in bounded
 * memory. An error thrown by the items themselves ends the reading with a `SquallError` naming
 * the task and how many items came before it (the error is its `cause`); runs already started
 * still finish.
 *
 * @example
 * const sizes = objectSize.mapStream(listKeys(bucket), { maxInFlight: 500 });
 * let total = 0;
 * for await (const size of sizes) total += size;
 */
export class TaskRunStream<T> implements AsyncIterable<T> {
  readonly #taskName: string;
  readonly #items: Iterable<unknown> | AsyncIterable<unknown>;
  readonly #start: (item: unknown) => TaskRun<T>;
  readonly #max: number;
  #read = false;
  #pulled = 0;

  /** @internal */
  constructor(
    taskName: string,
    items: Iterable<unknown> | AsyncIterable<unknown>,
    maxInFlight: number,
    start: (item: unknown) => TaskRun<T>,
  ) {
    this.#taskName = taskName;
    this.#items = items;
    this.#max = maxInFlight;
    this.#start = start;
  }

  /** How many items have been taken from the iterable so far (each one a run). */
  get taken(): number {
    return this.#pulled;
  }

  /** Each result in input order; throws the first failure in input order. */
  [Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    return results(this.#inOrder(this.#open("a reading for results")));
  }

  /** Each run's future once it has finished, in input order. */
  futures(): AsyncGenerator<TaskFuture<T>, void, undefined> {
    return this.#inOrder(this.#open("futures()"));
  }

  /** Each run's future once it has finished, first finished first. */
  asCompleted(): AsyncGenerator<TaskFuture<T>, void, undefined> {
    return this.#completed(this.#open("asCompleted()"));
  }

  async *#completed(source: Source): AsyncGenerator<TaskFuture<T>, void, undefined> {
    const finished: TaskRun<T>[] = [];
    let inFlight = 0;
    let exhausted = false;
    let wake: (() => void) | undefined;
    const onFinished = (run: TaskRun<T>) => {
      finished.push(run);
      wake?.();
    };
    try {
      for (;;) {
        while (!exhausted && inFlight < this.#max) {
          const next = await this.#next(source);
          if (next.done) exhausted = true;
          else {
            const run = this.#start(next.value);
            inFlight += 1;
            void run.wait().then(() => onFinished(run));
          }
        }
        if (finished.length === 0) {
          if (inFlight === 0) return;
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
          continue;
        }
        inFlight -= 1;
        yield finished.shift() as TaskRun<T>;
      }
    } finally {
      if (!exhausted) await closeQuietly(source);
    }
  }

  async *#inOrder(source: Source): AsyncGenerator<TaskFuture<T>, void, undefined> {
    // The window of runs taken and not yet handed over, oldest first.
    let window: (TaskRun<T> | undefined)[] = [];
    let head = 0;
    let exhausted = false;
    try {
      for (;;) {
        while (!exhausted && window.length - head < this.#max) {
          const next = await this.#next(source);
          if (next.done) exhausted = true;
          else window.push(this.#start(next.value));
        }
        if (head === window.length) return;
        const run = window[head] as TaskRun<T>;
        window[head++] = undefined; // let it go once handed over
        if (head >= 1024 && head * 2 >= window.length) {
          window = window.slice(head);
          head = 0;
        }
        await run.wait();
        yield run;
      }
    } finally {
      if (!exhausted) await closeQuietly(source);
    }
  }

  #open(how: string): Source {
    if (this.#read) {
      throw new InvalidArgumentError(
        `${this.#taskName}.mapStream() can be read once (its items are pulled as it is read), but ${how} was asked for after it had been read. Keep what you need from the first reading.`,
      );
    }
    this.#read = true;
    const items = this.#items as Partial<AsyncIterable<unknown> & Iterable<unknown>>;
    return items[Symbol.asyncIterator]
      ? (items[Symbol.asyncIterator] as () => AsyncIterator<unknown>).call(items)
      : (items[Symbol.iterator] as () => Iterator<unknown>).call(items);
  }

  async #next(source: Source): Promise<IteratorResult<unknown>> {
    let next: IteratorResult<unknown>;
    try {
      next = await source.next();
    } catch (thrown) {
      const cause = toError(thrown);
      throw new SquallError(
        `The items ${this.#taskName}.mapStream() maps over threw after ${this.#pulled} items: ${cause.message}`,
        { cause },
      );
    }
    if (!next.done) this.#pulled += 1;
    return next;
  }
}

/** Checks `mapStream()`'s arguments; returns the bound. */
export function checkMapStream(taskName: string, items: unknown, options: unknown): number {
  const iterable =
    typeof items === "object" &&
    items !== null &&
    (typeof (items as AsyncIterable<unknown>)[Symbol.asyncIterator] === "function" ||
      typeof (items as Iterable<unknown>)[Symbol.iterator] === "function");
  if (!iterable) {
    throw new InvalidArgumentError(
      `Expected ${taskName}.mapStream() to get an iterable or async iterable of items, got \`${String(items)}\``,
    );
  }
  if (options !== undefined && (typeof options !== "object" || options === null)) {
    throw new InvalidArgumentError(
      `Expected ${taskName}.mapStream()'s options to be an object, got \`${String(options)}\``,
    );
  }
  const { maxInFlight = DEFAULT_MAX_IN_FLIGHT, args = [] } = (options ?? {}) as MapStreamOptions;
  if (!Number.isInteger(maxInFlight) || maxInFlight < 1) {
    throw new InvalidArgumentError(
      `Expected \`maxInFlight\` to be an integer >= 1, got \`${String(maxInFlight)}\``,
    );
  }
  if (!Array.isArray(args)) {
    throw new InvalidArgumentError(`Expected \`args\` to be an array, got \`${String(args)}\``);
  }
  return maxInFlight;
}

type Source = Iterator<unknown> | AsyncIterator<unknown>;

async function* results<T>(futures: AsyncGenerator<TaskFuture<T>, void, undefined>) {
  for await (const future of futures) yield await future.result();
}

async function closeQuietly(source: Source): Promise<void> {
  try {
    await source.return?.();
  } catch {
    // The reader stopped; what the items do on closing is theirs.
  }
}
