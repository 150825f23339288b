import type { LogRecord } from "../../logging/config.js";
import { formatDelaySeconds } from "../../retry.js";
import type { TaskMessage, TaskRecord } from "../wire/messages.js";

/**
 * The line a run's logger writes when an attempt failed and a retry is queued, worded as the
 * local runners' engine words it: it travels in the attempt's outcome, so the caller replays it
 * in its terminal and `squall logs` reads it from the record, in order with the attempt's output.
 */
export function retryLine(
  message: TaskMessage,
  record: TaskRecord,
  error: Error,
  retries: number,
  delaySeconds: number,
): LogRecord {
  const { attempt } = record;
  return {
    time: Date.now(),
    level: "INFO",
    message: `Attempt ${attempt} failed with ${error.name}: ${error.message}. Retry ${attempt}/${retries} starts in ${formatDelaySeconds(delaySeconds)}.`,
    flowRunId: message.flowRunId,
    flowRunName: message.flowRunName,
    taskRunId: record.taskRunId,
    taskRunName: record.taskRunName,
  };
}
