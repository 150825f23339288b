import { toError } from "../../errors.js";
import type { ResultStore } from "../../storage/result-store.js";
import type { SqsQueue } from "../queue.js";
import type { TaskMessage, TaskRecord } from "../wire/messages.js";
import { Rejections } from "../wire/rejections.js";
import { RunKeys } from "../wire/run-key.js";
import type { BatchKeys } from "./batch-keys.js";
import { type WorkerDeadline, workerDeadline } from "./deadline.js";
import { recordStart } from "./deaths.js";
import type { BatchResponse, InvocationContext, SqsEvent, SqsItem } from "./events.js";
import { diedOutcome } from "./outcomes.js";
import { receive } from "./receive.js";
import type { Handled, ReportOptions } from "./report.js";
import { Reporter } from "./reporter.js";
import { RunLogs } from "./run-logs.js";
import { type MessagesRun, NotStartedError, type RunLeases, runMessages } from "./run-messages.js";
import { createRecordRunner } from "./run-record.js";
import { FailingApart } from "./storage-apart.js";
import { leaseWaitSeconds, type ReleaseLeases, type TagLeases } from "./tag-leases.js";

export type { BatchResponse, InvocationContext, SqsEvent } from "./events.js";

export interface TaskWorkerOptions {
  /** Where retries go back to, delayed. */
  readonly tasks: SqsQueue;
  /** Where outcomes go, for the coordinator. */
  readonly completions: SqsQueue;
  /** Where results too large for a message go, under the run's result key. */
  readonly store: ResultStore;
  /** Results up to this many bytes travel inline in the outcome. @default 64 KiB */
  readonly inlineBytes?: number;
  /** Task runs of one invocation run at once, up to this many (their awaits overlap). @default 64 */
  readonly concurrency?: number;
  /**
   * The source modules a deployed bundle was built from: project-relative path → the hash of
   * the file as `moduleHash` computes it. Their tasks are found by name in the bundle.
   */
  readonly bundled?: Readonly<Record<string, string>>;
  /**
   * Where a worker without a bundle (the local environment's) may import task modules from: the
   * project's source files, outside node_modules. @default process.cwd()
   */
  readonly projectRoot?: string;
  /** Whether task modules changed since this worker loaded them are reloaded (see `TaskLookupOptions`). @default false */
  readonly reloadModules?: boolean;
  /**
   * Times a suspect run may be started alone and die with its worker before it ends Crashed
   * (see `deaths.ts`); also how often a run the bucket failed is sent back. @default 3
   */
  readonly maxDeaths?: number;
  /** How long a run the bucket failed waits before it is tried again. @default 5 */
  readonly stallDelaySeconds?: number;
  /**
   * Concurrency limits by tag, held across the fleet with leases in the bucket: a run carrying
   * a limited tag starts only once it holds a slot of each, and goes back delayed when one is
   * not free. @default none
   */
  readonly tagLeases?: TagLeases;
  /** How long a run with no free slot waits before it is tried again, in seconds. @default 1 to 4, spread */
  readonly leaseWaitSeconds?: () => number;
}

/** How long a warm worker trusts what it learned of a flow run's cancellation. */
const CANCEL_CHECK_MS = 1_000;

/**
 * The worker function's core: runs each task run of each message by name, with its deadline,
 * capturing its console output and log lines, and reports one outcome per attempt to the
 * completion queue. A failed attempt with retries left goes back to the task queue, delayed,
 * so retries never pass through the caller. A message that does not fit its schema, or names
 * a task this worker does not have, becomes Failed outcomes with the reason, never a failed batch.
 *
 * The steps a message goes through each have a file: `receive.ts` (signature, schema,
 * suspects), `run-record.ts` (one run with its deadline), `report.ts` (outcomes, retries,
 * stalled runs).
 *
 * @example
 * const worker = createTaskWorker({ tasks, completions, store });
 * export const handler = (event: SqsEvent) => worker.handle(event);
 */
export function createTaskWorker(options: TaskWorkerOptions) {
  const store = new FailingApart(options.store);
  // Stored arguments are read from this bucket only, through this very store.
  const own = options.store.locator?.kind === "s3" ? options.store.locator : undefined;
  const runRecord = createRecordRunner({
    store,
    ownBucket: own?.prefix ? undefined : own?.bucket,
    inlineBytes: options.inlineBytes ?? 64 * 1024,
    logs: new RunLogs(),
    bundled: options.bundled,
    projectRoot: options.projectRoot ?? process.cwd(),
    reloadModules: options.reloadModules,
  });
  const maxDeaths = options.maxDeaths ?? 3;
  const concurrency = options.concurrency ?? 64;
  const reporting: ReportOptions = {
    tasks: options.tasks,
    completions: options.completions,
    maxDeaths,
    stallDelaySeconds: options.stallDelaySeconds ?? 5,
  };

  /**
   * Each flow run's key, read once per flow run per second by a warm worker: it checks the
   * run's messages and says whether the run was cancelled (so a cancellation reaches workers
   * within that second, for one lookup that the run's cancellation check took anyway).
   */
  const runKeys = new RunKeys((key) => options.store.get(key), { refreshMs: CANCEL_CHECK_MS });
  const rejections = new Rejections("worker");
  const tagLeases = options.tagLeases;
  const deferredDelay = options.leaseWaitSeconds ?? leaseWaitSeconds;
  /** Leases for runs of a batch: none asked of the bucket for a run without a limited tag. */
  const leases: RunLeases | undefined = tagLeases && {
    take: async (message, record) => {
      if (tagLeases.limited(record.tags).length === 0) return async () => {};
      return tagLeases.acquire(record.tags, `${message.flowRunId}/${record.taskRunId}-${record.attempt}`);
    },
    deferredDelay,
  };

  /**
   * Runs a suspect alone, its start recorded first; one that died with its worker `maxDeaths`
   * times before ends Crashed instead.
   */
  async function runSuspect(
    { item, message }: { item: SqsItem; message: TaskMessage },
    keys: BatchKeys,
    comeBack: (items: readonly SqsItem[], what: string, error: unknown) => void,
    deadline: WorkerDeadline | undefined,
  ): Promise<void> {
    const record = message.tasks[0] as TaskRecord;
    const reporter = new Reporter(keys, reporting);
    // Its slots first: a suspect that finds none goes back without its start counting as a death.
    let release: ReleaseLeases | undefined;
    if (leases) {
      try {
        release = await leases.take(message, record);
      } catch (error) {
        comeBack([item], "take the slots of a run's limited tags", error);
        return;
      }
      if (release === undefined) {
        const run = await reportAlone(
          reporter,
          { deferred: [{ record, message, delay: deferredDelay() }] },
          item,
        );
        if (run.unreported.length > 0)
          comeBack(run.unreported, "send back a run with no free slot", run.error);
        return;
      }
    }
    let deaths: number;
    try {
      deaths = await recordStart(options.store, message.flowRunId, record, maxDeaths);
    } catch (error) {
      await release?.();
      comeBack([item], "record the start of a run that may have killed its worker", error);
      return;
    }
    const held = release;
    const run =
      deaths >= maxDeaths
        ? await reportAlone(reporter, { outcomes: [diedOutcome(message, record, deaths)] }, item, held)
        : await runMessages([{ item, parsed: { ok: true, value: message } }], {
            keys,
            runRecord,
            rejections,
            concurrency,
            reporter,
            deadline,
            leases: held && { take: async () => held, deferredDelay },
          });
    if (run.unreported.length > 0) comeBack(run.unreported, "report outcomes", run.error);
  }

  /** Deletes handled messages now rather than when the batch ends (best effort: repeats are dropped). */
  async function deleteDone(items: readonly SqsItem[]): Promise<void> {
    const handles = items.flatMap(({ receiptHandle }) => (receiptHandle ? [receiptHandle] : []));
    if (handles.length > 0) await options.tasks.delete(handles).catch(() => {});
  }

  return {
    /**
     * Handles one batch. A message delivered again may hold a run that kills its worker, so
     * runs of a message received before (or sent back as suspects) are handled apart: a message
     * of several is split into messages of one run each; a batch runs at most one suspect,
     * alone, after the rest of the batch has been reported, and sends other suspects back as
     * messages of their own. So a killer takes no other run down with it more than once, and a
     * run started alone `maxDeaths` times, dying each time, ends Crashed (deaths are recorded
     * by the worker, `deaths.ts`: a receive count raised by throttling is no death).
     */
    async handle(event: SqsEvent, context?: InvocationContext): Promise<BatchResponse> {
      // Runs still under way near the invocation's end are cut, so that the others are reported.
      const remaining = context?.getRemainingTimeInMillis?.();
      const deadline = remaining === undefined ? undefined : workerDeadline(remaining);
      const failed: SqsItem[] = [];
      /** Messages to deliver again, and why, where whoever reads the function's logs sees it. */
      const comeBack = (items: readonly SqsItem[], what: string, error: unknown) => {
        const fix =
          error instanceof NotStartedError
            ? "Give the worker function a longer timeout, or send fewer runs per message."
            : "Check the queues and the role's permissions.";
        process.stderr.write(
          `squall worker: could not ${what} (${toError(error).message}); ${items.length} message(s) come back. ${fix}\n`,
        );
        failed.push(...items);
      };
      const { keys, unreadable, unreadableError, fresh, suspects, resend, resent } = await receive(
        event.Records,
        runKeys,
        rejections,
        store,
      );
      if (unreadable.length > 0) comeBack(unreadable, "read the flow runs' keys", unreadableError);
      const done: SqsItem[] = [];
      try {
        if (resend.length > 0) await options.tasks.send(resend);
        done.push(...resent);
      } catch (error) {
        comeBack(resent, "send suspect runs back apart", error);
      }
      // Runs taken apart are done with: should a run in this batch kill the invocation, they
      // must not come back.
      await deleteDone(done.splice(0));
      if (fresh.length > 0) {
        const reporter = new Reporter(keys, reporting);
        const run = await runMessages(fresh, {
          keys,
          runRecord,
          rejections,
          concurrency,
          reporter,
          deadline,
          leases,
        });
        done.push(...run.reported);
        // Delivered again; the coordinator drops the outcomes it already has.
        if (run.unreported.length > 0) comeBack(run.unreported, "report outcomes", run.error);
      }
      const suspect = suspects[0];
      if (suspect) {
        await deleteDone(done); // likewise, should the suspect kill it
        await runSuspect(suspect, keys, comeBack, deadline);
      }
      return { batchItemFailures: failed.map((item) => ({ itemIdentifier: item.messageId })) };
    },

    /** Messages this instance rejected, by reason (each also logged once, as a metric line). */
    rejected: () => rejections.counts(),
  };
}

/** Reports what no run produced (a suspect given up on, or sent back for want of a slot). */
async function reportAlone(
  reporter: Reporter,
  part: Partial<Handled>,
  item: SqsItem,
  release?: ReleaseLeases,
): Promise<MessagesRun> {
  await release?.();
  const reported = reporter.add(part);
  reporter.flush();
  try {
    await reported;
    return { reported: [item], unreported: [] };
  } catch (error) {
    return { reported: [], unreported: [item], error };
  }
}
