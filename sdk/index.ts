/**
 * squall: Prefect-style flows and tasks for TypeScript.
 *
 * @example
 * import { flow, task } from "squall";
 *
 * const double = task(function double(x: number) { return 2 * x; });
 * const doubles = flow(function doubles(xs: number[]) { return double.map(xs).result(); });
 * console.log(await doubles([1, 2, 3])); // [2, 4, 6]
 */
export { AllowFailure, allowFailure, Unmapped, unmapped } from "./annotations.js";
export { type CacheKeyContext, CachePolicy, cachePolicies } from "./cache.js";
export { getRunContext, getRunLogger, type RunContext } from "./context.js";
export { flowRandom, flowRunStartTime, sleep } from "./durable.js";
export type { FlowRunState } from "./engine/flow-run.js";
export type { TaskRunError } from "./engine/task-run.js";
export {
  BucketAccessDeniedError,
  CacheKeyError,
  CancelledError,
  CodeMismatchError,
  CrashedError,
  DuplicateFlowNameError,
  DuplicateTaskNameError,
  FlowTimeoutError,
  InvalidArgumentError,
  MessageRefusedError,
  MissingContextError,
  NonDeterministicFlowError,
  ResultNotFoundError,
  ResultTimeoutError,
  type RunFailure,
  type RunRef,
  SquallError,
  TaskRunsFailedError,
  TaskTimeoutError,
  UpstreamFailedError,
} from "./errors.js";
export { type Flow, flow } from "./flow.js";
export {
  asCompleted,
  type DoneAndNotDone,
  type ResultOptions,
  type TaskFuture,
  TaskFutureList,
  wait,
} from "./futures.js";
export {
  configureLogging,
  type LevelName,
  type LogFormat,
  type LoggingOptions,
  type LogRecord,
  resetLogging,
} from "./logging/config.js";
export { RunLogger } from "./logging/logger.js";
export { type MapStreamOptions, TaskRunStream } from "./map-stream.js";
export { observeRuns, type RunEvent, type RunListener } from "./observe.js";
export type { FlowHook, FlowOptions, TaskHook, TaskOptions } from "./options.js";
export { exponentialBackoff, type RetryDelay } from "./retry.js";
export { ConcurrentTaskRunner, type ConcurrentTaskRunnerOptions } from "./runners/concurrent.js";
export { SequentialTaskRunner } from "./runners/sequential.js";
export type { TagLimits } from "./runners/tag-slots.js";
export type {
  AttemptOutcome,
  RunnableTaskRun,
  TaskAttempt,
  TaskInvoker,
  TaskReference,
  TaskRunner,
  TaskRunnerSession,
} from "./runners/task-runner.js";
export { ThreadPoolTaskRunner, type ThreadPoolTaskRunnerOptions } from "./runners/thread-pool.js";
export type { FlowRunInfo, TaskRunInfo } from "./runs.js";
export { registerErrorClass } from "./serialization/errors.js";
export {
  defaultSerializer,
  jsonSerializer,
  SerializationError,
  type Serializer,
} from "./serialization/serializer.js";
export {
  type CancelledState,
  type CompletedState,
  type CrashedState,
  type FailedState,
  type FinalState,
  isFinal,
  type PendingState,
  type RunningState,
  type ScheduledState,
  type State,
  type StateName,
  type StateType,
} from "./states.js";
export { FileResultStore } from "./storage/file.js";
export { MemoryResultStore } from "./storage/memory.js";
export type { ResultStore } from "./storage/result-store.js";
export { type PersistedResultAddress, readPersistedResult } from "./storage/results.js";
export { type Futurable, type MapArg, type RestArgs, type Task, type TaskCallOptions, task } from "./task.js";
