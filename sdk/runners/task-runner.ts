import type { FlowRunInfo } from "../runs.js";

/** A task run handed to a runner: the runner decides when (and later, where) it executes. */
export interface RunnableTaskRun {
  readonly id: string;
  readonly name: string;
  /**
   * Runs the whole lifecycle here: waits for upstream runs, then attempts, retries,
   * timeout and final state. Returns `undefined` when the run finished synchronously,
   * else a promise that settles when the run reaches a final state. Never rejects.
   */
  execute(): Promise<void> | undefined;
}

/** A runner serving one flow run: it gets the flow's submitted runs in submission order. */
export interface TaskRunnerSession {
  submit(run: RunnableTaskRun): void;
  /** Called once every submitted run has reached a final state. */
  shutdown(): Promise<void> | void;
}

/**
 * Where and how a flow's submitted tasks run. The engine never asks which runner it
 * has: it starts a session with each flow run and submits runs to it. One runner
 * may serve many flow runs at once.
 */
export interface TaskRunner {
  readonly name: string;
  start(flowRun: FlowRunInfo): TaskRunnerSession | Promise<TaskRunnerSession>;
}
