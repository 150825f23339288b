import { SquallError } from "../../errors.js";
import type { Outcome } from "../wire/messages.js";
import { SQS_MAX_BYTES } from "../wire/pack.js";
import { errorOutcome } from "../wire/payload.js";
import { SEAL_BYTES } from "../wire/seal.js";
import { sqsSafeJson } from "../wire/sqs-text.js";

/** Room for an outcome message's frame: its version, flow run id and worker name. */
const FRAME_BYTES = 1024;
/** The most an outcome's JSON may take, alone in its message. */
export const MAX_OUTCOME_BYTES = SQS_MAX_BYTES - SEAL_BYTES - FRAME_BYTES;

/**
 * An outcome's JSON as its message carries it. One that cannot fit a message even alone (its
 * output is already cut short and large values go to the bucket, so only a large inline
 * result setting gets here) becomes its run's failure, saying why: it fails alone, and the
 * outcomes sent with it are not held back.
 */
export function fitting(outcome: Outcome): string {
  const json = sqsSafeJson(JSON.stringify(outcome));
  const bytes = Buffer.byteLength(json);
  if (bytes <= MAX_OUTCOME_BYTES) return json;
  const error = new SquallError(
    `Task run ${outcome.taskRunId} ended ${outcome.status}, but its outcome took ${Math.ceil(bytes / 1024)} KiB, more than an SQS message holds (${Math.floor(MAX_OUTCOME_BYTES / 1024)} KiB with its frame): lower the worker's \`inlineBytes\` so that large results go to the bucket, or return less.`,
  );
  const status = outcome.status === "completed" ? "failed" : outcome.status;
  return sqsSafeJson(
    JSON.stringify({ ...errorOutcome(outcome, status, error), startedAt: outcome.startedAt }),
  );
}
