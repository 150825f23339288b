import { mapLimit } from "../../map-limit.js";
import type { Outcome } from "../wire/messages.js";
import type { Rejections } from "../wire/rejections.js";
import type { BatchKeys } from "./batch-keys.js";
import type { SqsItem } from "./events.js";
import { malformedOutcomes, skippedOutcome } from "./outcomes.js";
import type { Parsed } from "./receive.js";
import type { Handled } from "./report.js";
import type { RunRecord } from "./run-record.js";

/** Runs the messages' task runs, all at once up to the concurrency limit; outcomes in message order. */
export async function runMessages(
  items: readonly { item: SqsItem; parsed: Parsed }[],
  keys: BatchKeys,
  runRecord: RunRecord,
  rejections: Rejections,
  concurrency: number,
): Promise<Handled> {
  const retries: Handled["retries"] = [];
  const stalled: Handled["stalled"] = [];
  const work: (() => Promise<void>)[] = [];
  const outcomes = items.map(({ item, parsed }) => {
    if (!parsed.ok) {
      // Signed, so its runs are the caller's: each it names fails, saying why.
      const { outcomes, untold } = malformedOutcomes(parsed.flowRunId, parsed.json, parsed.reason);
      if (untold > 0) {
        rejections.reject(
          item,
          "malformed",
          `${parsed.reason}; ${untold} of its task runs name no task run id`,
          outcomes.length > 0 ? `The ${outcomes.length} it names end Failed.` : "It was deleted.",
        );
      }
      return outcomes;
    }
    const message = parsed.value;
    const mine: Outcome[] = new Array(message.tasks.length);
    message.tasks.forEach((record, i) => {
      work.push(async () => {
        if (keys.get(message.flowRunId)?.cancelled) {
          mine[i] = skippedOutcome(message, record);
          return;
        }
        const ran = await runRecord(message, record);
        if ("unavailable" in ran) {
          stalled.push({ record, message, error: ran.unavailable });
          return;
        }
        mine[i] = ran.outcome;
        if (ran.retry !== undefined) retries.push({ record, delay: ran.retry, message });
      });
    });
    return mine;
  });
  await mapLimit(work, concurrency, (job) => job());
  // A run the bucket failed has no outcome: it is sent back by itself.
  return { outcomes: outcomes.flat().filter((outcome) => outcome !== undefined), retries, stalled };
}
