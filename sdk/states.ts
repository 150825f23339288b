/**
 * Run states, as a discriminated union on `type`; `name` refines it
 * (a Completed run may be `Cached`, a Running one `Retrying`).
 */
export type StateType =
  | "PENDING"
  | "SCHEDULED"
  | "RUNNING"
  | "COMPLETED"
  | "FAILED"
  | "CRASHED"
  | "CANCELLED";

export type StateName =
  | "Pending"
  | "AwaitingRetry"
  | "Running"
  | "Retrying"
  | "Completed"
  | "Cached"
  | "Failed"
  | "TimedOut"
  | "Crashed"
  | "Cancelled";

interface StateBase {
  /** When the run entered this state. */
  readonly timestamp: Date;
}

export interface PendingState extends StateBase {
  readonly type: "PENDING";
  readonly name: "Pending";
}

export interface ScheduledState extends StateBase {
  readonly type: "SCHEDULED";
  readonly name: "AwaitingRetry";
  /** When the next attempt starts. */
  readonly scheduledTime: Date;
}

export interface RunningState extends StateBase {
  readonly type: "RUNNING";
  readonly name: "Running" | "Retrying";
}

export interface CompletedState<T> extends StateBase {
  readonly type: "COMPLETED";
  readonly name: "Completed" | "Cached";
  readonly result: T;
}

export interface FailedState extends StateBase {
  readonly type: "FAILED";
  readonly name: "Failed" | "TimedOut";
  readonly error: Error;
}

export interface CrashedState extends StateBase {
  readonly type: "CRASHED";
  readonly name: "Crashed";
  readonly error: Error;
}

export interface CancelledState extends StateBase {
  readonly type: "CANCELLED";
  readonly name: "Cancelled";
  readonly error: Error;
}

export type FinalState<T = unknown> = CompletedState<T> | FailedState | CrashedState | CancelledState;

export type State<T = unknown> = PendingState | ScheduledState | RunningState | FinalState<T>;

const TYPES: Record<StateName, StateType> = {
  Pending: "PENDING",
  AwaitingRetry: "SCHEDULED",
  Running: "RUNNING",
  Retrying: "RUNNING",
  Completed: "COMPLETED",
  Cached: "COMPLETED",
  Failed: "FAILED",
  TimedOut: "FAILED",
  Crashed: "CRASHED",
  Cancelled: "CANCELLED",
};

export function stateTypeOf(name: StateName): StateType {
  return TYPES[name];
}

function isFinalName(name: StateName): boolean {
  const type = TYPES[name];
  return type === "COMPLETED" || type === "FAILED" || type === "CRASHED" || type === "CANCELLED";
}

/** True once a run can no longer change state. */
export function isFinal<T>(state: State<T>): state is FinalState<T> {
  return isFinalName(state.name);
}

/**
 * Builds a state object from the fields a run keeps. Runs store plain fields and
 * build state objects only when asked, so a run allocates none on the hot path.
 */
export function makeState<T>(
  name: StateName,
  timestamp: number,
  payload: { result?: T; error?: Error; scheduledTime?: number },
): State<T> {
  const type = TYPES[name];
  const at = new Date(timestamp);
  switch (type) {
    case "COMPLETED":
      return { type, name, timestamp: at, result: payload.result as T } as CompletedState<T>;
    case "SCHEDULED":
      return {
        type,
        name,
        timestamp: at,
        scheduledTime: new Date(payload.scheduledTime ?? timestamp),
      } as ScheduledState;
    case "FAILED":
    case "CRASHED":
    case "CANCELLED":
      return { type, name, timestamp: at, error: payload.error as Error } as FinalState<T>;
    default:
      return { type, name, timestamp: at } as State<T>;
  }
}

/** Prefect-style one-line rendering: `Completed()`, `Failed('boom')`. */
export function describeState(state: State<unknown>): string {
  if ("error" in state) return `${state.name}('${state.error.name}: ${state.error.message}')`;
  return `${state.name}()`;
}
