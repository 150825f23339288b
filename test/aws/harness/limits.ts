// AWS's limits as a test sets them, each on unless switched off, and the settings the layers read.
import { LAMBDA_PAYLOAD_LIMITS, type PayloadLimits } from "./invoke-api.js";
import { SQS_LIMITS, type SqsLimits } from "./sqs-limits.js";

/** AWS's limits, each on unless switched off. */
export interface Limits {
  /** 256 KiB messages and batch calls, 10 entries a batch, allowed characters in bodies. */
  readonly sqs?: boolean | SqsLimits;
  /** 6 MB synchronous requests and responses, 256 KiB Event requests. */
  readonly lambdaPayloads?: boolean | PayloadLimits;
  /** Event invocations that fail are retried, as the function's EventInvokeConfig says (else twice). */
  readonly asyncRetries?: boolean;
  /** Each principal may do only what its policies allow; missing keys read without s3:ListBucket are 403. */
  readonly iam?: boolean;
}

/** What the layers apply: nothing of a limit switched off, AWS's values where a test gave none. */
export interface EffectiveLimits {
  readonly sqs: SqsLimits;
  readonly lambdaPayloads: PayloadLimits;
  readonly asyncRetries: boolean;
  readonly iam: boolean;
}

export function effectiveLimits(limits: Limits): EffectiveLimits {
  const pick = <T extends object>(setting: boolean | T | undefined, all: T): T | Record<string, never> =>
    setting === false ? {} : { ...all, ...(typeof setting === "object" ? setting : {}) };
  return {
    sqs: pick(limits.sqs, SQS_LIMITS),
    lambdaPayloads: pick(limits.lambdaPayloads, LAMBDA_PAYLOAD_LIMITS),
    asyncRetries: limits.asyncRetries !== false,
    iam: limits.iam !== false,
  };
}
