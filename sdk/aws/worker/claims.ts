import { runPrefix } from "../../storage/keys.js";

/**
 * Message claims, for the task messages of durable flow runs. A flow-runner keeps each message it
 * sends, with a claim id, in the run's journal before sending it; a flow-runner resuming the run
 * cannot know whether a message its predecessor journaled went out before it died, so it sends
 * the same body again. Whichever copy a worker receives first claims it (a conditional create of
 * `runs/<id>/claims/<claim>` holding the SQS message id); a copy that finds the claim held by
 * another message id is dropped, its runs being the claimer's, and the same message delivered
 * again (same id) goes on. So each run executes once per attempt however many copies were sent.
 *
 * Cost: one PUT per message of a durable run (about 0.02 per task run at 50 runs a message), and
 * one GET for a redelivery or a copy.
 */
export interface ClaimStore {
  create(key: string, value: Uint8Array): Promise<boolean>;
  get(key: string): Promise<Uint8Array | undefined>;
}

export function claimKey(flowRunId: string, claim: string): string {
  return `${runPrefix(flowRunId)}claims/${claim}`;
}

/** Whether this delivery (`messageId`) may run the message's runs: `false` when another copy claimed it. */
export async function claimMessage(
  store: ClaimStore,
  flowRunId: string,
  claim: string,
  messageId: string,
): Promise<boolean> {
  const key = claimKey(flowRunId, claim);
  if (await store.create(key, new TextEncoder().encode(messageId))) return true;
  const holder = await store.get(key);
  return holder !== undefined && new TextDecoder().decode(holder) === messageId;
}
