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
 * result, or the upstream's error in its place.
 *
 * @example
 * const report = summarize.submit(allowFailure(flakyFuture));
 */
export function allowFailure<T>(future: TaskFuture<T>): AllowFailure<T> {
  if (typeof (future as Partial<TaskFuture<T>>)?.result !== "function") {
    throw new InvalidArgumentError(`Expected allowFailure() to get a task future, got \`${String(future)}\``);
  }
  return new AllowFailure(future);
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
