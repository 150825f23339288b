import { InvalidArgumentError, ResultTimeoutError } from "./errors.js";
import type { State } from "./states.js";

export interface ResultOptions {
  /**
   * Gives up waiting after this many milliseconds (0 to 2147483647) with `ResultTimeoutError`; the
   * run goes on. A negative, non-finite, too long or non-number value is refused with
   * `InvalidArgumentError`.
   */
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

  /**
   * Every result, in input order. Throws the first failure as it happens, without waiting for
   * runs still going (as Prefect's `PrefectFutureList.result()`); `timeoutMs` bounds the wait
   * for the whole list.
   */
  result(options?: ResultOptions & { raiseOnFailure?: true }): Promise<T[]>;
  result(options: ResultOptions & { raiseOnFailure: false }): Promise<(T | Error)[]>;
  result(options: ResultOptions = {}): Promise<(T | Error)[]> {
    const { timeoutMs, raiseOnFailure } = options ?? {};
    const each = { raiseOnFailure } as { raiseOnFailure: false };
    const list = [...this];
    return new Promise((resolve, reject) => {
      checkTimeoutMs(timeoutMs, "result");
      const results = new Array<T | Error>(list.length);
      let left = list.length;
      let timer: NodeJS.Timeout | undefined;
      const fail = (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      };
      if (left === 0) return resolve(results);
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          reject(
            new ResultTimeoutError(
              `${left} of ${list.length} task runs did not finish within ${timeoutMs} ms; they go on.`,
            ),
          );
        }, timeoutMs);
      }
      list.forEach((future, i) => {
        future.result(each).then((value) => {
          results[i] = value;
          left -= 1;
          if (left === 0) {
            clearTimeout(timer);
            resolve(results);
          }
        }, fail);
      });
    });
  }

  /** Every final state, in input order; or, after `timeoutMs`, the state each run is in then. */
  async wait(timeoutMs?: number): Promise<State<T>[]> {
    checkTimeoutMs(timeoutMs, "wait");
    return Promise.all(this.map((future) => future.wait(timeoutMs)));
  }
}

export interface DoneAndNotDone<T> {
  readonly done: TaskFuture<T>[];
  readonly notDone: TaskFuture<T>[];
}

/**
 * Waits until every future is done, or until `timeoutMs` passes. A future given twice is in
 * `done` or `notDone` once.
 *
 * @example
 * const { done, notDone } = await wait(futures, { timeoutMs: 5_000 });
 */
export async function wait<T>(
  futures: Iterable<TaskFuture<T>>,
  options: { readonly timeoutMs?: number } = {},
): Promise<DoneAndNotDone<T>> {
  const list = checkFutures(futures, "wait");
  checkTimeoutMs(options?.timeoutMs, "wait");
  const states = await Promise.all(list.map((future) => future.wait(options.timeoutMs)));
  const done: TaskFuture<T>[] = [];
  const notDone: TaskFuture<T>[] = [];
  states.forEach((state, i) => {
    (isDone(state) ? done : notDone).push(list[i] as TaskFuture<T>);
  });
  return { done, notDone };
}

/**
 * Yields each future as its run finishes: those already finished first, then the others as they
 * finish. After `timeoutMs`, throws `ResultTimeoutError` for the runs not yet finished.
 *
 * @example
 * for await (const future of asCompleted(futures)) console.log(await future.result());
 */
export async function* asCompleted<T>(
  futures: Iterable<TaskFuture<T>>,
  options: { readonly timeoutMs?: number } = {},
): AsyncGenerator<TaskFuture<T>, void, undefined> {
  const list = checkFutures(futures, "asCompleted");
  checkTimeoutMs(options?.timeoutMs, "asCompleted");
  // Runs already finished are yielded first, even with a timeout of 0 (as in Prefect).
  const finished: TaskFuture<T>[] = [];
  const unfinished: TaskFuture<T>[] = [];
  for (const future of list) (isDone(future.state) ? finished : unfinished).push(future);
  let wake: (() => void) | undefined;
  for (const future of unfinished) {
    future.wait().then(() => {
      finished.push(future);
      wake?.();
    });
  }
  const { timeoutMs } = options;
  const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
  for (let yielded = 0; yielded < list.length; ) {
    if (finished.length === 0) {
      const left = deadline === undefined ? undefined : deadline - Date.now();
      if (left !== undefined && left <= 0) {
        throw new ResultTimeoutError(
          `${list.length - yielded} of ${list.length} task runs did not finish within ${timeoutMs} ms.`,
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

/** The longest delay `setTimeout` keeps; a longer one fires at once. */
const MAX_TIMEOUT_MS = 2_147_483_647;

/**
 * Refuses a timeout that is not a number of milliseconds from 0 to `MAX_TIMEOUT_MS`: a negative one
 * would otherwise end a wait at once, and a non-number or an overlong one would be read as 1 ms.
 */
export function checkTimeoutMs(timeoutMs: unknown, caller: string): void {
  if (timeoutMs === undefined) return;
  if (
    typeof timeoutMs !== "number" ||
    Number.isNaN(timeoutMs) ||
    timeoutMs < 0 ||
    timeoutMs > MAX_TIMEOUT_MS
  ) {
    const got = typeof timeoutMs === "string" ? JSON.stringify(timeoutMs) : String(timeoutMs);
    throw new InvalidArgumentError(
      `Expected \`timeoutMs\` of ${caller}() to be a number of milliseconds from 0 to ${MAX_TIMEOUT_MS}, got \`${got}\`: pass 0 to take only what has finished, or leave it out to wait without a limit.`,
    );
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
  return [...new Set(list)]; // a future given twice is waited for and given back once, as in Prefect
}
