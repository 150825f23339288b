import type { RunLogger } from "./logging/logger.js";
import type { State } from "./states.js";

/** What a flow run exposes to hooks, to `getRunContext()` and to the task runner. */
export interface FlowRunInfo {
  readonly id: string;
  readonly name: string;
  readonly flowName: string;
  readonly parentFlowRunId: string | undefined;
  readonly startTime: Date | undefined;
  readonly endTime: Date | undefined;
  readonly state: State<unknown>;
}

/** What a task run exposes to hooks and to `getRunContext()`. */
export interface TaskRunInfo {
  readonly id: string;
  readonly name: string;
  readonly taskName: string;
  readonly flowRunId: string;
  readonly tags: readonly string[];
  /** Attempts started so far: 1 on the first run, 2 after one retry. */
  readonly attempts: number;
  readonly startTime: Date | undefined;
  readonly endTime: Date | undefined;
  readonly state: State<unknown>;
}

/** What the engine keeps in async context while a flow or task function runs. */
export interface RunScope {
  readonly flowRun: FlowRunInfo;
  readonly taskRun: TaskRunInfo | undefined;
  readonly signal: AbortSignal;
  readonly logger: RunLogger;
  readonly logPrints: boolean;
}
