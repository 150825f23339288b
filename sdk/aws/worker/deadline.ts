import { scopeStorage } from "../../context.js";
import { TaskTimeoutError } from "../../errors.js";
import { type AttemptSpec, RemoteScope } from "../../remote/attempt.js";

/** When the worker must stop waiting for its runs to leave time to report them (ms since the epoch). */
export interface WorkerDeadline {
  readonly at: number;
  /** How the invocation's time was split, for the error that says why a run was cut. */
  readonly remainingMs: number;
  readonly marginMs: number;
}

/** Time kept to report outcomes after the last run was cut: a few sends, retried. @default 2 s */
export const REPORT_MARGIN_MS = 2_000;

/**
 * The deadline an invocation with `remainingMs` left gives its runs: that time less a margin to
 * report (at most `REPORT_MARGIN_MS`, a fifth of it for short invocations).
 */
export function workerDeadline(remainingMs: number, now = Date.now()): WorkerDeadline {
  const marginMs = Math.min(REPORT_MARGIN_MS, Math.floor(remainingMs / 5));
  return { at: now + remainingMs - marginMs, remainingMs, marginMs };
}

/**
 * Runs the function in its run scope. At the run's own timeout, or at the worker's deadline if
 * that comes first, the attempt fails with `TaskTimeoutError` and its signal aborts. Synchronous
 * code cannot be interrupted, so a run that returns past either is failed when it returns, as in
 * process; one that never returns is ended by Lambda's own timeout (its message comes back).
 */
export async function withDeadline(
  spec: AttemptSpec,
  fn: (...args: unknown[]) => unknown,
  args: unknown[],
  timeoutMs: number | undefined,
  worker?: WorkerDeadline,
): Promise<unknown> {
  const started = Date.now();
  const ownEnd = timeoutMs === undefined ? Number.POSITIVE_INFINITY : started + timeoutMs;
  const end = Math.min(ownEnd, worker?.at ?? Number.POSITIVE_INFINITY);
  if (end === Number.POSITIVE_INFINITY) {
    const scope = new RemoteScope(spec);
    return Promise.resolve().then(() => scopeStorage.run(scope, fn, ...args));
  }
  const timedOut = () =>
    new TaskTimeoutError(
      end === ownEnd
        ? `Task run '${spec.taskRun.name}' exceeded its timeout of ${(timeoutMs as number) / 1000} seconds.`
        : `Task run '${spec.taskRun.name}' ran past the worker function's remaining time (${seconds(worker?.remainingMs)} seconds when its batch began, less ${seconds(worker?.marginMs)} to report its outcome), so the worker stopped waiting for it. Give the task a \`timeoutSeconds\` it can finish in, or raise the worker function's timeout.`,
    );
  const controller = new AbortController();
  const scope = new RemoteScope(spec, controller.signal);
  const running = Promise.resolve().then(() => scopeStorage.run(scope, fn, ...args));
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => {
        const error = timedOut();
        controller.abort(error);
        reject(error);
      },
      Math.max(0, end - Date.now()),
    );
  });
  try {
    const value = await Promise.race([running, deadline]);
    // Code that never yielded returns before its timer can fire: its time is checked here.
    if (Date.now() > end) {
      const error = timedOut();
      controller.abort(error);
      throw error;
    }
    return value;
  } finally {
    clearTimeout(timer);
  }
}

const seconds = (ms: number | undefined) => ((ms ?? 0) / 1000).toFixed(1);
