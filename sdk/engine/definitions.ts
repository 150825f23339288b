import type { FlowSettings, TaskSettings } from "../options.js";

/** A task as the engine sees it: its function and checked settings. */
export interface TaskDefinition {
  readonly name: string;
  readonly fn: (...args: never[]) => unknown;
  readonly settings: TaskSettings;
  /** A hash of the function's source text, for the `taskSource` cache policy. */
  readonly sourceHash: string;
  /** The URL of the module that defined the task, where another process imports it from. */
  readonly module: string | undefined;
  /** The task's code identity: its module file's hash, else its source hash. */
  readonly codeHash: string;
  /** Runs of this task submitted with `withOptions({ waitFor })` wait for these. */
  readonly waitFor: readonly unknown[] | undefined;
}

/** A flow as the engine sees it. */
export interface FlowDefinition {
  readonly name: string;
  readonly fn: (...args: never[]) => unknown;
  readonly settings: FlowSettings;
}
