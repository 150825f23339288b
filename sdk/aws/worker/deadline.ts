import { scopeStorage } from "../../context.js";
import { TaskTimeoutError } from "../../errors.js";
import { type AttemptSpec, RemoteScope } from "../../remote/attempt.js";

/**
 * Runs the function in its run scope; at the deadline the attempt fails and its signal aborts.
 * (A synchronous function that never yields cannot be stopped here: Lambda's own timeout ends
 * the invocation, the message is delivered again, and after maxReceiveCount it is dead-lettered.)
 */
export async function withDeadline(
  spec: AttemptSpec,
  fn: (...args: unknown[]) => unknown,
  args: unknown[],
  timeoutMs: number | undefined,
): Promise<unknown> {
  if (timeoutMs === undefined) {
    const scope = new RemoteScope(spec);
    return Promise.resolve().then(() => scopeStorage.run(scope, fn, ...args));
  }
  const controller = new AbortController();
  const scope = new RemoteScope(spec, controller.signal);
  const running = Promise.resolve().then(() => scopeStorage.run(scope, fn, ...args));
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new TaskTimeoutError(
        `Task run '${spec.taskRun.name}' exceeded its timeout of ${timeoutMs / 1000} seconds.`,
      );
      controller.abort(error);
      reject(error);
    }, timeoutMs);
  });
  try {
    return await Promise.race([running, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
