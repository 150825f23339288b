import { SquallError, toError } from "../../errors.js";
import { mapLimit } from "../../map-limit.js";
import type { TaskMessage, TaskRecord } from "../wire/messages.js";
import type { Rejections } from "../wire/rejections.js";
import type { BatchKeys } from "./batch-keys.js";
import type { WorkerDeadline } from "./deadline.js";
import type { SqsItem } from "./events.js";
import { malformedOutcomes, skippedOutcome } from "./outcomes.js";
import type { Parsed } from "./receive.js";
import type { Reporter } from "./reporter.js";
import type { RunRecord } from "./run-record.js";
import type { ReleaseLeases } from "./tag-leases.js";

/**
 * Takes a run's slots of its limited tags before it starts: a release to call when it ends, or
 * `undefined` when a slot is not free (the run goes back, delayed, `deferredDelay` seconds).
 */
export interface RunLeases {
  take(message: TaskMessage, record: TaskRecord): Promise<ReleaseLeases | undefined>;
  deferredDelay(): number;
}

/** Which messages had every run reported, and which come back (with what failed their report). */
export interface MessagesRun {
  readonly reported: SqsItem[];
  readonly unreported: SqsItem[];
  readonly error?: unknown;
}

/** What running a batch's messages takes: the batch's keys and how runs are run and reported. */
export interface RunContext {
  readonly keys: BatchKeys;
  readonly runRecord: RunRecord;
  readonly rejections: Rejections;
  /** Runs under way at once, at most. */
  readonly concurrency: number;
  readonly reporter: Reporter;
  /** When the invocation must stop waiting for its runs, if it has an end. */
  readonly deadline?: WorkerDeadline;
  /** Concurrency limits by tag, when the worker has any. */
  readonly leases?: RunLeases;
}

/**
 * Runs the messages' task runs, all at once up to the concurrency limit, each reported as it
 * finishes. A message is reported once all of its runs are; a run the bucket failed is
 * reported by being sent back by itself.
 */
export async function runMessages(
  items: readonly { item: SqsItem; parsed: Parsed }[],
  { keys, runRecord, rejections, concurrency, reporter, deadline, leases }: RunContext,
): Promise<MessagesRun> {
  let error: unknown;
  // Caught as added: a report may fail while other runs still run.
  const reported = (report: Promise<void>) =>
    report.then(
      () => true,
      (failed: unknown) => {
        error = failed;
        return false;
      },
    );
  const work: (() => Promise<void>)[] = [];
  let order = 0;
  const perItem = items.map(({ item, parsed }) => {
    const reports: Promise<boolean>[] = [];
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
      if (outcomes.length > 0) reports.push(reported(reporter.add({ outcomes }, order++)));
      return { item, reports };
    }
    const message = parsed.value;
    for (const record of message.tasks) {
      const place = order++;
      let settle!: (report: Promise<boolean>) => void;
      reports.push(new Promise<boolean>((resolve) => (settle = resolve)));
      work.push(async () => {
        try {
          if (deadline && Date.now() >= deadline.at) {
            // Not started for lack of time, which is no fault of its own: its message comes back.
            settle(reported(Promise.reject(new NotStartedError(record.taskRunName))));
            return;
          }
          if (keys.get(message.flowRunId)?.cancelled) {
            settle(reported(reporter.add({ outcomes: [skippedOutcome(message, record)] }, place)));
            return;
          }
          let release: ReleaseLeases | undefined;
          if (leases) {
            try {
              release = await leases.take(message, record);
            } catch (failed) {
              // The bucket failed, not the run: it goes back as a stalled run does.
              settle(
                reported(reporter.add({ stalled: [{ record, message, error: toError(failed) }] }, place)),
              );
              return;
            }
            if (release === undefined) {
              const delay = leases.deferredDelay();
              settle(reported(reporter.add({ deferred: [{ record, message, delay }] }, place)));
              return;
            }
          }
          let ran: Awaited<ReturnType<RunRecord>>;
          try {
            ran = await runRecord(message, record, deadline);
          } finally {
            // A run never holds a slot past its end.
            await release?.();
          }
          if ("reload" in ran) {
            settle(reported(reporter.add({ reloads: [{ record, message }] }, place)));
            return;
          }
          if ("unavailable" in ran) {
            settle(reported(reporter.add({ stalled: [{ record, message, error: ran.unavailable }] }, place)));
            return;
          }
          const retries = ran.retry === undefined ? [] : [{ record, delay: ran.retry, message }];
          settle(reported(reporter.add({ outcomes: [ran.outcome], retries }, place)));
        } catch (thrown) {
          settle(reported(Promise.reject(thrown))); // a bug: its message comes back
        }
      });
    }
    return { item, reports };
  });
  await mapLimit(work, concurrency, (job) => job());
  reporter.flush(); // nothing more is coming
  const run: MessagesRun = { reported: [], unreported: [] };
  for (const { item, reports } of perItem) {
    const all = await Promise.all(reports);
    (all.every(Boolean) ? run.reported : run.unreported).push(item);
  }
  return { ...run, error };
}

/** A run the invocation had no time left to start. */
export class NotStartedError extends SquallError {
  constructor(taskRunName: string) {
    super(
      `the invocation's time ran out before task run '${taskRunName}' could start, so its message comes back to run again`,
    );
  }
}
