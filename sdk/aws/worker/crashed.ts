import { CrashedError } from "../../errors.js";
import { encodeError } from "../../remote/attempt.js";
import type { Outcome, TaskMessage, TaskRecord } from "../wire/messages.js";

const decoder = new TextDecoder();

/** The outcome of a run whose worker died (or timed out) `times` times while it ran. */
export function crashedOutcome(message: TaskMessage, record: TaskRecord, times: number): Outcome {
  const count = times > 0 ? `${times} times` : "repeatedly";
  const error = new CrashedError(
    `Task run '${record.taskRunName}' crashed: its message was delivered ${count} without an outcome (the worker died or timed out each time).`,
  );
  return {
    flowRunId: message.flowRunId,
    taskRunId: record.taskRunId,
    attempt: record.attempt,
    status: "crashed",
    serializer: "default",
    payload: { text: decoder.decode(encodeError(error)) },
    endedAt: Date.now(),
    logs: [],
  };
}

/** The outcome of a run that a sweep gave up on: nothing was heard of it in time. */
export function overdueOutcome(flowRunId: string, taskRunId: string, why: string): Outcome {
  const error = new CrashedError(`Task run ${taskRunId} crashed: ${why}.`);
  return {
    flowRunId,
    taskRunId,
    attempt: 1,
    status: "crashed",
    serializer: "default",
    payload: { text: decoder.decode(encodeError(error)) },
    endedAt: Date.now(),
    logs: [],
  };
}
