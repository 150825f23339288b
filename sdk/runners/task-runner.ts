import type { RetryDelay } from "../retry.js";
import type { FlowRunInfo, TaskRunInfo } from "../runs.js";
import type { Serializer } from "../serialization/serializer.js";
import type { StateName } from "../states.js";

/** A task run handed to a runner: the runner decides when and where it executes. */
export interface RunnableTaskRun {
  readonly id: string;
  readonly name: string;
  /** The task's tags: a runner holding concurrency limits by tag takes a slot of each limited one. */
  readonly tags: readonly string[];
  /** How the run's task retries: a runner that holds retries elsewhere checks it can honour it. */
  readonly retryPolicy: RetryPolicy;
  /** Each attempt's deadline, if the task has one: a runner whose workers have limits of their own checks it. */
  readonly timeoutMs: number | undefined;
  /** The worker pool the task names, if any: a runner with pools sends the run there. */
  readonly pool: string | undefined;
  /**
   * Runs the whole lifecycle: waits for upstream runs, then attempts, retries, timeout
   * and final state. Each attempt runs here, or through `invoker` when one is given.
   * Returns `undefined` when the run finished synchronously, else a promise that settles
   * when the run reaches a final state. Never rejects.
   */
  execute(invoker?: TaskInvoker): Promise<void> | undefined;
  /**
   * Serializes the run's arguments with its serializer now, throwing `SerializationError`
   * (naming where the value sits) for one that cannot cross to another process.
   */
  checkArguments(): void;
}

export interface RetryPolicy {
  readonly taskName: string;
  readonly retries: number;
  readonly delay: RetryDelay;
  readonly jitterFactor: number;
}

/** What names a task for another process: the module defining it, its name, its code identity. */
export interface TaskReference {
  readonly module: string | undefined;
  readonly name: string;
  readonly codeHash: string;
}

/** One attempt of a task run, to be run somewhere other than here. */
export interface TaskAttempt {
  readonly taskRun: TaskRunInfo;
  readonly flowRun: FlowRunInfo;
  readonly task: TaskReference;
  /** The arguments with upstream results in place. */
  readonly args: readonly unknown[];
  /**
   * The same arguments already serialized, when the run was checked at submission; handed over
   * once (later calls give `undefined`), so that an attempt awaiting its outcome does not keep a
   * serialized copy of large arguments alive after they were sent.
   */
  takeArgBytes(): Uint8Array | undefined;
  readonly serializer: Serializer;
  /** Whether a worker whose code for the task differs must refuse to run it. */
  readonly verifySource: boolean;
  /** The run's retry policy, for invokers that retry elsewhere. */
  readonly retryPolicy: RetryPolicy;
  readonly logPrints: boolean;
  /**
   * The attempt's deadline; the engine enforces it and calls `stop()` when it passes. It counts
   * from `started()`, which the invoker calls when the attempt begins running, not while it queues.
   */
  readonly timeoutMs: number | undefined;
  /** The worker pool the task names, if any. */
  readonly pool: string | undefined;
  started(): void;
}

/**
 * How an attempt ended: the function returned or threw, or whatever ran it died. An invoker
 * that retries elsewhere reports how many attempts the run took in all.
 */
export type AttemptOutcome = (
  | { readonly status: "completed"; readonly value: unknown }
  | { readonly status: "failed"; readonly error: Error }
  | { readonly status: "crashed"; readonly error: Error }
) & { readonly attempts?: number; readonly ran?: AttemptRan };

/**
 * Where and when an attempt ran, as whatever ran it reports: for timelines by worker. Times
 * are milliseconds since the epoch on the worker's clock.
 */
export interface AttemptRan {
  /** The thread or execution environment that ran it: `thread 3`, a Lambda log stream name. */
  readonly worker: string;
  readonly startedAt: number;
  readonly endedAt: number;
}

/** Runs attempts elsewhere; the engine keeps retries, timeouts, states and hooks. */
export interface TaskInvoker {
  /**
   * True when whatever runs the attempts retries them and enforces their deadlines itself (a
   * worker fleet): the engine then takes the first outcome as the run's final one.
   */
  readonly retriesElsewhere?: boolean;
  invoke(attempt: TaskAttempt): Promise<AttemptOutcome>;
  /**
   * The attempt passed its deadline or its run was cancelled: stop it if it is running, drop
   * it if it is queued. Its outcome, whenever it comes, is ignored.
   */
  stop(attempt: TaskAttempt, reason: Error): void;
}

/** How the flow run ends, as its session learns at shutdown. */
export interface FlowRunEnding {
  readonly state: StateName;
  readonly error: Error | undefined;
}

/** A runner serving one flow run: it gets the flow's submitted runs in submission order. */
export interface TaskRunnerSession {
  submit(run: RunnableTaskRun): void;
  /** Called once every submitted run has reached a final state and the flow function has returned. */
  shutdown(ending: FlowRunEnding): Promise<void> | void;
  /**
   * A `sleep()` of the flow, at its place in the call order (`callId`, an id as a task run there
   * would have): a session that keeps the run durable remembers when it ends, so that the flow
   * run again waits only what is left. Without it, the engine waits with a timer.
   */
  sleep?(callId: string, ms: number): Promise<void>;
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
