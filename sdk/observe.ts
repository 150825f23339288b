import { InvalidArgumentError } from "./errors.js";
import { userStack } from "./stack-frames.js";
import type { StateName } from "./states.js";

/** A flow run or task run entering a state: what the CLI's live display and run records follow. */
export interface RunEvent {
  readonly kind: "flow" | "task";
  readonly id: string;
  readonly name: string;
  /** The flow's or the task's name. */
  readonly definition: string;
  /** For a task run, its flow run; for a flow run, its parent flow run, if any. */
  readonly flowRunId: string | undefined;
  readonly state: StateName;
  /** Milliseconds since the epoch. */
  readonly time: number;
  readonly attempts?: number;
  readonly error?: { readonly name: string; readonly message: string; readonly stack?: string };
  /**
   * For a task run, where its attempt runs or ran: `in process` (the flow's own process), a
   * thread (`thread 3`), or a Lambda execution environment (its log stream name). Known from
   * the Running event for runs in process, from the final event for runs elsewhere.
   */
  readonly worker?: string;
  /**
   * On the final event of a task run that ran elsewhere: when its last attempt started and
   * ended, on the worker's clock (the other events carry the times this process saw).
   */
  readonly startedAt?: number;
  readonly endedAt?: number;
}

/** The worker of task runs that run in the flow's own process (sequential and concurrent runners). */
export const IN_PROCESS = "in process";

export type RunListener = (event: RunEvent) => void;

const listeners = new Set<RunListener>();

/**
 * Calls `listener` with every state every flow run and task run of this process enters,
 * from now on; returns a function that stops it. A listener that throws is ignored. Runs
 * cost nothing more while no one listens.
 *
 * @example
 * const stop = observeRuns((event) => console.log(event.kind, event.name, event.state));
 */
export function observeRuns(listener: RunListener): () => void {
  if (typeof listener !== "function") {
    throw new InvalidArgumentError(
      `Expected observeRuns() to get a function called with each run event, got \`${String(listener)}\``,
    );
  }
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
  };
}

/** Whether anyone listens: callers build events only then. */
export function observed(): boolean {
  return listeners.size > 0;
}

export function emitRunEvent(event: RunEvent): void {
  for (const listener of listeners) {
    try {
      listener(event);
    } catch {}
  }
}

/** What run events say of an error: its stack less the frames of how squall called the task. */
export function errorSummary(error: Error | undefined): RunEvent["error"] {
  return error && { name: error.name, message: error.message, stack: error.stack && userStack(error.stack) };
}

/**
 * What a task runner that runs task runs elsewhere knows of them between the engine's states,
 * and of the environment it runs them on. On the Lambda runner, a run the engine calls Running
 * is `queued` (handed to the runner, not sent yet), then `sent` (on the task queue), and
 * `retrying` once the run's record says an attempt failed and its retry waits; whether a sent
 * run has started, the caller cannot know without asking AWS for each one, so it is not said.
 */
export type RunProgress =
  | {
      readonly kind: "task";
      /** The task run's id, as in its run events. */
      readonly id: string;
      readonly phase: "queued" | "sent" | "retrying";
      /** For `retrying`: the attempt that failed. */
      readonly attempt?: number;
    }
  | {
      readonly kind: "environment";
      /** `starting`: an environment is being started for the flow run; `ready`: runs go to `description`. */
      readonly phase: "starting" | "ready";
      /** Where task runs go: `the local environment at http://127.0.0.1:4566, bucket squall-local`. */
      readonly description: string;
    };

export type ProgressListener = (progress: RunProgress) => void;

const progressListeners = new Set<ProgressListener>();

/** Calls `listener` with each `RunProgress` a task runner reports, from now on; returns a function that stops it. */
export function observeProgress(listener: ProgressListener): () => void {
  progressListeners.add(listener);
  return () => {
    progressListeners.delete(listener);
  };
}

/** Whether anyone follows runners' progress: runners report it only then. */
export function progressObserved(): boolean {
  return progressListeners.size > 0;
}

export function emitProgress(progress: RunProgress): void {
  for (const listener of progressListeners) {
    try {
      listener(progress);
    } catch {}
  }
}
