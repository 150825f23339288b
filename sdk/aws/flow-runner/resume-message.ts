import * as v from "valibot";
import type { SqsQueue } from "../queue.js";
import { RUN_ID_PATTERN, WIRE_VERSION } from "../wire/messages.js";
import { seal } from "../wire/seal.js";

/**
 * A message on the flow queue: drive this durable flow run on from where its journal is. Signed
 * with the run's key for the `flows` queue, as every message squall sends, so that one who may
 * only send to the queue cannot make the flow-runner do anything.
 */
export const ResumeMessageSchema = v.object({
  v: v.literal(WIRE_VERSION),
  flowRunId: v.pipe(v.string(), v.regex(RUN_ID_PATTERN)),
  resume: v.object({
    /** The journal entry to read from (the last snapshot the sender knew of). */
    from: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), 0),
    /** Why: `handoff` (the last invocation neared its timeout), `sweep`, `start`, `sleep`, `retry`. */
    reason: v.string(),
  }),
});
export type ResumeMessage = v.InferOutput<typeof ResumeMessageSchema>;

/** Sends a resume of the run to the flow queue, after `delaySeconds` (at most 900, SQS's limit). */
export async function sendResume(
  queue: SqsQueue,
  key: Uint8Array,
  flowRunId: string,
  resume: { readonly from: number; readonly reason: string },
  delaySeconds = 0,
): Promise<void> {
  const body = seal(key, "flows", JSON.stringify({ v: WIRE_VERSION, flowRunId, resume }));
  await queue.send([body], delaySeconds > 0 ? { delaySeconds } : {});
}
