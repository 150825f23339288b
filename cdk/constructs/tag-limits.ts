// Concurrency limits by tag, as the stack's workers get them: variables, and leave to hold leases.
import type { Duration } from "aws-cdk-lib";
import { TAG_LEASE_SECONDS_VARIABLE, TAG_LIMITS_VARIABLE } from "../../sdk/aws/handlers.js";
import { LEASE_MARGIN_SECONDS } from "../../sdk/aws/worker/tag-leases.js";
import { checkTagLimits, type TagLimits } from "../../sdk/runners/tag-slots.js";

/**
 * The worker's variables for `tagLimits` (none when no limit is set): the limits, and how long a
 * lease holds, the worker's timeout plus a margin, since no run outlives its invocation.
 */
export function tagLimitsEnvironment(
  limits: TagLimits | undefined,
  workerTimeout: Duration,
): Record<string, string> {
  const checked = checkTagLimits(limits);
  if (!checked || Object.keys(checked).length === 0) return {};
  return {
    [TAG_LIMITS_VARIABLE]: JSON.stringify(checked),
    [TAG_LEASE_SECONDS_VARIABLE]: String(workerTimeout.toSeconds() + LEASE_MARGIN_SECONDS),
  };
}
