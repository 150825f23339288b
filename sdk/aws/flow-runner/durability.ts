import type { Journal } from "../durable/journal.js";
import type { SqsQueue } from "../queue.js";
import { TerminalIds } from "../record/terminal-ids.js";
import type { S3ResultStore } from "../s3-store.js";
import { type FlowReturned, WIRE_VERSION } from "../wire/messages.js";
import type { RunKeys } from "../wire/run-key.js";
import { seal } from "../wire/seal.js";
import { sqsSafeJson } from "../wire/sqs-text.js";

/** What a flow-runner needs to start and resume durable runs: its bucket, queues and code. */
export interface Durability {
  readonly store: S3ResultStore;
  /** Where runs are handed on to the next invocation, and resumed from. */
  readonly flowQueue: SqsQueue;
  /** Where a run that cannot go on is ended (its flow-returned notice). */
  readonly completions: SqsQueue;
  /** Runs' keys, to check resume messages and sign what it sends. */
  readonly keys: RunKeys;
  /** The code it runs flows with (see `flowsCodeIdentity`). */
  readonly code: string;
}

/**
 * Ends a durable run that cannot be driven on (its code changed, its flow is gone) as Failed
 * with `message`: the flow-returned notice a session would send, counting every run its
 * journal says was sent, so the record becomes final once they are.
 */
export async function endRunFailed(
  durability: Durability,
  key: Uint8Array,
  journal: Journal,
  run: { readonly flowRunId: string; readonly flowName: string },
  message: string,
): Promise<void> {
  const sent = new TerminalIds();
  for (const id of journal.ids()) sent.add(id);
  const returned: FlowReturned = {
    flowRunId: run.flowRunId,
    flowName: run.flowName,
    state: "Failed",
    message,
    tasks: journal.size,
    sent: sent.toJSON(),
    endedAt: Date.now(),
  };
  const body = sqsSafeJson(JSON.stringify({ v: WIRE_VERSION, flowRunId: run.flowRunId, returned }));
  await durability.completions.send([seal(key, "completions", body)]);
}
