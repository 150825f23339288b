import { CancelledError, CrashedError, SquallError } from "../../errors.js";
import { type Outcome, RUN_ID_PATTERN, type TaskMessage, type TaskRecord } from "../wire/messages.js";
import { errorOutcome } from "../wire/payload.js";

/** The outcome of a run whose message the dead-letter queue took after `times` deliveries without an outcome. */
export function crashedOutcome(message: TaskMessage, record: TaskRecord, times: number): Outcome {
  const count = times > 0 ? `${times} times` : "repeatedly";
  const error = new CrashedError(
    `Task run '${record.taskRunName}' crashed: its message was delivered ${count} without an outcome (the worker died or timed out each time).`,
  );
  return errorOutcome({ ...record, flowRunId: message.flowRunId }, "crashed", error);
}

/** The outcome of a run started alone `deaths` times after its worker died, each time dying with it. */
export function diedOutcome(message: TaskMessage, record: TaskRecord, deaths: number): Outcome {
  const error = new CrashedError(
    `Task run '${record.taskRunName}' crashed: it was started alone ${deaths} times after its worker died, and each time its worker died or timed out without an outcome.`,
  );
  return errorOutcome({ ...record, flowRunId: message.flowRunId }, "crashed", error);
}

/** The outcome of a run the bucket failed `times` times: its arguments or its result did not get through. */
export function stalledOutcome(
  message: TaskMessage,
  record: TaskRecord,
  times: number,
  cause: Error,
): Outcome {
  const error = new CrashedError(
    `Task run '${record.taskRunName}' crashed: the result bucket failed it ${times} times (${cause.message}). Check that the bucket exists and the worker's role may read and write it.`,
  );
  return errorOutcome({ ...record, flowRunId: message.flowRunId }, "crashed", error);
}

/** The outcome of a run that a sweep gave up on: nothing was heard of it in time. */
export function overdueOutcome(flowRunId: string, taskRunId: string, why: string): Outcome {
  return errorOutcome(
    { flowRunId, taskRunId, attempt: 1 },
    "crashed",
    new CrashedError(`Task run ${taskRunId} crashed: ${why}.`),
  );
}

/** The outcome of a run the worker did not start: its flow run was cancelled. */
export function skippedOutcome(message: TaskMessage, record: TaskRecord): Outcome {
  const error = new CancelledError(
    `Task run '${record.taskRunName}' was cancelled before it started: flow run '${message.flowRunName}' was cancelled.`,
  );
  return errorOutcome({ ...record, flowRunId: message.flowRunId }, "cancelled", error);
}

/**
 * Failed outcomes for the task runs a signed but malformed message names, as far as they can
 * be told; `untold` counts the entries that name no task run (nothing can answer for them).
 */
export function malformedOutcomes(
  flowRunId: string,
  json: unknown,
  reason: string,
): { outcomes: Outcome[]; untold: number } {
  const tasks = (json as { tasks?: unknown } | null)?.tasks;
  if (!Array.isArray(tasks) || tasks.length === 0) return { outcomes: [], untold: 1 };
  const error = new SquallError(`The task message could not be read: ${reason}.`);
  const outcomes: Outcome[] = [];
  for (const task of tasks as { taskRunId?: unknown; attempt?: unknown }[]) {
    const taskRunId = task?.taskRunId;
    if (typeof taskRunId !== "string" || !RUN_ID_PATTERN.test(taskRunId)) continue;
    const attempt = typeof task.attempt === "number" && task.attempt >= 1 ? Math.floor(task.attempt) : 1;
    outcomes.push(errorOutcome({ flowRunId, taskRunId, attempt }, "failed", error));
  }
  return { outcomes, untold: tasks.length - outcomes.length };
}
