import { authenticate } from "../wire/authenticate.js";
import { parseValue, type TaskMessage, TaskMessageSchema, type TaskRecord } from "../wire/messages.js";
import type { Rejections } from "../wire/rejections.js";
import type { RunKey, RunKeys } from "../wire/run-key.js";
import { signFor } from "./batch-keys.js";
import { type ClaimStore, claimMessage } from "./claims.js";
import type { SqsItem } from "./events.js";

/** A message whose signature held: its task message, or why it does not fit the schema. */
export type Parsed =
  | { ok: true; value: TaskMessage }
  | { ok: false; flowRunId: string; json: unknown; reason: string };

/** A batch's messages, checked and sorted by what the worker does with each. */
export interface Received {
  /** The keys of the flow runs whose messages' signatures held. */
  readonly keys: Map<string, RunKey>;
  /** Messages whose flow run's key could not be read: they come back. */
  readonly unreadable: SqsItem[];
  readonly unreadableError: unknown;
  /** Messages delivered for the first time: run together. */
  readonly fresh: { item: SqsItem; parsed: Parsed }[];
  /** At most one suspect of one run, run alone after the rest. */
  readonly suspects: { item: SqsItem; message: TaskMessage }[];
  /** Signed bodies of the other suspects, sent back one run each, and the messages they came in. */
  readonly resend: string[];
  readonly resent: SqsItem[];
}

/**
 * Checks each message's signature with its flow run's key (nothing in a message is believed
 * before), parses it, and tells fresh messages from suspects: a message received before (or
 * sent back as a suspect) may hold a run that kills its worker. A suspect of several runs is
 * split into messages of one run each; only one suspect of one run is kept, the others go back.
 */
export async function receive(
  records: readonly SqsItem[],
  runKeys: RunKeys,
  rejections: Rejections,
  claims?: ClaimStore,
): Promise<Received> {
  const keys = new Map<string, RunKey>();
  const unreadable: SqsItem[] = [];
  let unreadableError: unknown;
  const checked = await Promise.all(
    records.map(async (item) => {
      try {
        return { item, checked: await authenticate(item.body, "tasks", runKeys) };
      } catch (error) {
        unreadable.push(item);
        unreadableError = error;
        return undefined;
      }
    }),
  );
  const received: Received = {
    keys,
    unreadable,
    unreadableError,
    fresh: [],
    suspects: [],
    resend: [],
    resent: [],
  };
  // A durable run's message runs only in the copy that claims it.
  const claimed = await Promise.all(
    checked.map(async (entry) => {
      if (!entry?.checked.ok || !claims) return true;
      const claim = (entry.checked.json as { claim?: unknown } | null)?.claim;
      if (typeof claim !== "string" || !/^[0-9a-f]{16,64}$/.test(claim)) return true;
      try {
        return await claimMessage(claims, entry.checked.flowRunId, claim, entry.item.messageId);
      } catch (error) {
        unreadable.push(entry.item);
        unreadableError = error;
        return undefined;
      }
    }),
  );
  checked.forEach((entry, i) => {
    if (claimed[i] !== true) checked[i] = undefined; // another copy's, or to come back
  });
  for (const entry of checked) {
    if (!entry) continue;
    const { item, checked } = entry;
    if (!checked.ok) {
      // Deleted, not dead-lettered: the dead-letter queue holds runs that crashed, and no
      // run of this deployment is in it.
      rejections.reject(item, checked.reason, checked.detail, "It was deleted; nothing in it ran.");
      continue;
    }
    keys.set(checked.flowRunId, checked.runKey);
    const parsed = parseValue(TaskMessageSchema, checked.json);
    if (!parsed.ok) {
      received.fresh.push({ item, parsed: { ...parsed, flowRunId: checked.flowRunId, json: checked.json } });
      continue;
    }
    const message = parsed.value;
    const suspect = message.suspect === true || Number(item.attributes?.ApproximateReceiveCount ?? 1) > 1;
    const apart = (tasks: TaskRecord[]) =>
      // Taken apart from a claimed message, a run is that message's: its parts claim nothing.
      signFor(
        keys,
        message.flowRunId,
        "tasks",
        JSON.stringify({ ...message, tasks, suspect: true, claim: undefined }),
      );
    if (!suspect) received.fresh.push({ item, parsed });
    else if (message.tasks.length > 1) {
      for (const record of message.tasks) received.resend.push(apart([record]));
      received.resent.push(item);
    } else if (received.suspects.length === 0) received.suspects.push({ item, message });
    else {
      received.resend.push(apart(message.tasks));
      received.resent.push(item);
    }
  }
  return received;
}
