import { AsyncLocalStorage } from "node:async_hooks";
import { MissingContextError } from "./errors.js";
import type { RunLogger } from "./logging/logger.js";
import type { FlowRunInfo, RunScope, TaskRunInfo } from "./runs.js";

export const scopeStorage = new AsyncLocalStorage<RunScope>();

export function currentScope(): RunScope | undefined {
  return scopeStorage.getStore();
}

let insideWorker = false;

/**
 * Marks this thread as a worker that imports task modules to run their tasks. Flows that a
 * module calls at its top level are then skipped, so users need no "if main" guard.
 */
export function enterWorkerMode(): void {
  insideWorker = true;
}

export function isWorker(): boolean {
  return insideWorker;
}

/** The run the calling code is part of. */
export interface RunContext {
  readonly flowRun: FlowRunInfo;
  /** Set inside a task run. */
  readonly taskRun: TaskRunInfo | undefined;
  /** Aborts when the run is cancelled or reaches its timeout. */
  readonly signal: AbortSignal;
  readonly logger: RunLogger;
}

/**
 * The flow run, task run and abort signal of the code that calls it.
 *
 * @example
 * const download = task(async function download(url: string) {
 *   const { signal } = getRunContext();
 *   return (await fetch(url, { signal })).text();
 * });
 */
export function getRunContext(): RunContext {
  const scope = scopeStorage.getStore();
  if (!scope) {
    throw new MissingContextError(
      "getRunContext() was called outside a flow or task run. Call it from inside a flow or task function.",
    );
  }
  return { flowRun: scope.flowRun, taskRun: scope.taskRun, signal: scope.signal, logger: scope.logger };
}

/**
 * A logger whose lines name the current flow or task run.
 *
 * @example
 * const sayHello = task(function sayHello(name: string) {
 *   getRunLogger().info(`hello ${name}`);
 * });
 */
export function getRunLogger(): RunLogger {
  const scope = scopeStorage.getStore();
  if (!scope) {
    throw new MissingContextError(
      "getRunLogger() was called outside a flow or task run. Call it from inside a flow or task function.",
    );
  }
  return scope.logger;
}
