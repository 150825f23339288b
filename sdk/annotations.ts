import { InvalidArgumentError } from "./errors.js";
import type { TaskFuture } from "./futures.js";

/** Marks an upstream future whose failure must not stop the downstream run. */
export class AllowFailure<T> {
  readonly future: TaskFuture<T>;
  constructor(future: TaskFuture<T>) {
    this.future = future;
  }
}

/**
 * Passes an upstream future to a task even if its run failed: the task gets the
 * result, or the upstream's error in its place. Given a list of futures (such as a
 * `.map()`'s), it gives a list of `allowFailure(future)`, one per future: `.map()` over it
 * runs once per item, each run getting its item's result or error (as in Prefect).
 *
 * @example
 * const report = summarize.submit(allowFailure(flakyFuture));
 * const checked = check.map(allowFailure(fetchPage.map(urls))); // a failed fetch fails no check
 */
export function allowFailure<T>(future: TaskFuture<T>): AllowFailure<T>;
export function allowFailure<T>(futures: Iterable<TaskFuture<T>>): AllowFailure<T>[];
export function allowFailure<T>(
  future: TaskFuture<T> | Iterable<TaskFuture<T>>,
): AllowFailure<T> | AllowFailure<T>[] {
  if (isFuture(future)) return new AllowFailure(future);
  if (
    typeof future !== "string" &&
    typeof (future as Partial<Iterable<unknown>>)?.[Symbol.iterator] === "function"
  ) {
    return Array.from(future as Iterable<TaskFuture<T>>, (item, i) => {
      if (!isFuture(item)) {
        throw new InvalidArgumentError(
          `Expected allowFailure() to get a task future or a list of them, but item ${i} is \`${String(item)}\``,
        );
      }
      return new AllowFailure(item);
    });
  }
  throw new InvalidArgumentError(
    `Expected allowFailure() to get a task future or a list of them, got \`${String(future)}\``,
  );
}

function isFuture<T>(value: unknown): value is TaskFuture<T> {
  const future = value as Partial<TaskFuture<T>> | null | undefined;
  return typeof future?.result === "function" && typeof future.wait === "function" && "taskRunId" in future;
}

/** Marks a `.map()` argument that every run gets whole. */
export class Unmapped<T> {
  readonly value: T;
  constructor(value: T) {
    this.value = value;
  }
}

/**
 * Passes the same value to every run of a `.map()`, even an array.
 *
 * @example
 * const scaled = scale.map([1, 2, 3], unmapped([10, 100]));
 */
export function unmapped<T>(value: T): Unmapped<T> {
  return new Unmapped(value);
}
