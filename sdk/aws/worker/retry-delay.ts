import { InvalidArgumentError } from "../../errors.js";
import type { TaskSettings } from "../../options.js";
import { retryDelayMs } from "../../retry.js";
import type { TaskRecord } from "../wire/messages.js";
import { SQS_MAX_DELAY_SECONDS } from "../wire/pack.js";

/** Seconds to hold a retry back, or `undefined` when the run has no retry left (or must not retry). */
export async function retryDelaySeconds(
  settings: TaskSettings,
  record: TaskRecord,
  error: Error,
): Promise<number | undefined> {
  const { attempt } = record;
  // The caller's policy when it sent one (it may differ from the module's, through withOptions).
  const policy = record.retry;
  if (attempt > (policy ? policy.retries : settings.retries)) return undefined;
  if (settings.retryCondition) {
    try {
      if (!(await settings.retryCondition(error))) return undefined;
    } catch {
      return undefined;
    }
  }
  const delayMs = policy
    ? retryDelayMs(policy.delays, attempt, policy.jitter)
    : retryDelayMs(settings.retryDelay, attempt, settings.retryJitterFactor);
  const seconds = Math.ceil(delayMs / 1000);
  if (seconds > SQS_MAX_DELAY_SECONDS) {
    throw new InvalidArgumentError(
      `The retry delay for retry ${attempt} is ${seconds} seconds; SQS holds a retry back at most ${SQS_MAX_DELAY_SECONDS} seconds. Give the task shorter \`retryDelaySeconds\`.`,
    );
  }
  return seconds;
}
