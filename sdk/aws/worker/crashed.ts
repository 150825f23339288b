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
