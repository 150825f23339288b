import { InvalidArgumentError, ResultTimeoutError } from "./errors.js";
import type { State } from "./states.js";

export interface ResultOptions {
  /** Gives up waiting after this many milliseconds with `ResultTimeoutError`; the run goes on. */
  readonly timeoutMs?: number;
  /** When false, a failed run's error is returned instead of thrown. @default true */
  readonly raiseOnFailure?: boolean;
}

/**
 * A handle on a submitted task run, returned at once by `task.submit()`.
 *
 * @example
 * const future = double.submit(21);
 * console.log(future.state.name); // "Pending"
 * console.log(await future.result()); // 42
 */
export interface TaskFuture<T> {
  readonly taskRunId: string;
  readonly taskRunName: string;
  /** The run's current state. */
  readonly state: State<T>;
  /**
   * The run's result once it completes. A failed run's error is thrown as the task
   * threw it (same class and message), with `taskRunName` and `taskRunId` set on it.
   */
  result(options?: ResultOptions & { raiseOnFailure?: true }): Promise<T>;
  result(options: ResultOptions & { raiseOnFailure: false }): Promise<T | Error>;
  /** The final state; or, after `timeoutMs`, the state the run is in then. */
  wait(timeoutMs?: number): Promise<State<T>>;
}

/**
 * The futures of a `task.map()`, in input order.
 *
 * @example
 * const squares = await square.map([1, 2, 3]).result(); // [1, 4, 9]
 */
export class TaskFutureList<T> extends Array<TaskFuture<T>> {
  // `.map()` and friends on this list give plain arrays.
  static override get [Symbol.species](): ArrayConstructor {
    return Array;
  }

  /** Every result, in input order; throws the first failure in input order. */
  result(options?: ResultOptions & { raiseOnFailure?: true }): Promise<T[]>;
  result(options: ResultOptions & { raiseOnFailure: false }): Promise<(T | Error)[]>;
  async result(options: ResultOptions = {}): Promise<(T | Error)[]> {
    const pending = this.map((future) => future.result(options as { raiseOnFailure: false }));
    for (const promise of pending) promise.catch(() => {}); // each is awaited below, in order
    const results: (T | Error)[] = [];
    for (const promise of pending) results.push(await promise);
    return results;
  }

  /** Every final state, in input order. */
  wait(timeoutMs?: number): Promise<State<T>[]> {
    return Promise.all(this.map((future) => future.wait(timeoutMs)));
  }
}

export interface DoneAndNotDone<T> {
  readonly done: TaskFuture<T>[];
  readonly notDone: TaskFuture<T>[];
}

/**
 * Waits until every future is done, or until `timeoutMs` passes.
 *
 * @example
 * const { done, notDone } = await wait(futures, { timeoutMs: 5_000 });
 */
export async function wait<T>(
  futures: Iterable<TaskFuture<T>>,
  options: { readonly timeoutMs?: number } = {},
): Promise<DoneAndNotDone<T>> {
  const list = checkFutures(futures, "wait");
  const states = await Promise.all(list.map((future) => future.wait(options.timeoutMs)));
  const done: TaskFuture<T>[] = [];
  const notDone: TaskFuture<T>[] = [];
  states.forEach((state, i) => {
    (isDone(state) ? done : notDone).push(list[i] as TaskFuture<T>);
  });
  return { done, notDone };
}

/**
 * Yields each future as its run finishes, first finished first.
 *
 * @example
 * for await (const future of asCompleted(futures)) console.log(await future.result());
 */
export async function* asCompleted<T>(
  futures: Iterable<TaskFuture<T>>,
  options: { readonly timeoutMs?: number } = {},
): AsyncGenerator<TaskFuture<T>, void, undefined> {
  const list = checkFutures(futures, "asCompleted");
  const finished: TaskFuture<T>[] = [];
  let wake: (() => void) | undefined;
  for (const future of list) {
    future.wait().then(() => {
      finished.push(future);
      wake?.();
    });
  }
  const deadline = options.timeoutMs === undefined ? undefined : Date.now() + options.timeoutMs;
  for (let yielded = 0; yielded < list.length; ) {
    if (finished.length === 0) {
      const left = deadline === undefined ? undefined : deadline - Date.now();
      if (left !== undefined && left <= 0) {
        throw new ResultTimeoutError(
          `${list.length - yielded} of ${list.length} task runs did not finish within ${options.timeoutMs} ms.`,
        );
      }
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        wake = resolve;
        if (left !== undefined) timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
      wake = undefined;
      continue;
    }
    yielded += 1;
    yield finished.shift() as TaskFuture<T>;
  }
}

function isDone(state: State<unknown>): boolean {
  return state.type !== "PENDING" && state.type !== "RUNNING" && state.type !== "SCHEDULED";
}

function checkFutures<T>(futures: Iterable<TaskFuture<T>>, caller: string): TaskFuture<T>[] {
  if (futures === null || typeof (futures as Iterable<unknown>)?.[Symbol.iterator] !== "function") {
    throw new InvalidArgumentError(
      `Expected ${caller}() to get an iterable of task futures, got \`${String(futures)}\``,
    );
  }
  const list = [...futures];
  list.forEach((future, i) => {
    if (typeof (future as Partial<TaskFuture<T>>)?.wait !== "function") {
      throw new InvalidArgumentError(
        `Expected ${caller}() to get task futures, but item ${i} is \`${String(future)}\``,
      );
    }
  });
  return list;
}
