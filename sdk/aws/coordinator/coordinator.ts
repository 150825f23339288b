import { toError } from "../../errors.js";
import { mapLimit } from "../../map-limit.js";
import type { SqsQueue } from "../queue.js";
import { markRunOpen, OPEN_PREFIX, openRunKey } from "../record/open-runs.js";
import { appendToRecord, type RecordStore, repairSummary } from "../record/run-log.js";
import { TerminalIds } from "../record/terminal-ids.js";
import { retryWithin } from "../retry.js";
import { authenticate } from "../wire/authenticate.js";
import {
  type FlowReturned,
  type Outcome,
  OutcomeMessageSchema,
  parseValue,
  TaskMessageSchema,
} from "../wire/messages.js";
import { Rejections } from "../wire/rejections.js";
import { RunKeys } from "../wire/run-key.js";
import type { InvocationContext } from "../worker/events.js";
import { crashedOutcome, overdueOutcome } from "../worker/outcomes.js";
import type { BatchResponse } from "../worker/task-worker.js";
import { CallerSilence } from "./caller-silence.js";
import { SilentDrivers } from "./silent-drivers.js";

/** An SQS event as Lambda delivers it to the coordinator (the fields it reads). */
export interface CoordinatorEvent {
  readonly Records: readonly {
    readonly messageId: string;
    readonly body: string;
    readonly eventSourceARN?: string;
    readonly attributes?: { readonly ApproximateReceiveCount?: string; readonly SenderId?: string };
  }[];
}

/** What the sweep needs of the bucket beyond the record: listing and removing open-run markers. */
export interface SweepStore extends RecordStore {
  list(prefix: string): Promise<string[]>;
  delete(key: string): Promise<void>;
}

/** The scheduled event that starts a sweep (an EventBridge rule's constant input). */
export interface SweepEvent {
  readonly squall: "sweep";
}

/** Runs swept at once: each takes a few sequential reads, and a sweep must end within the function's timeout. */
const SWEEPS_AT_ONCE = 8;

export interface CoordinatorOptions {
  /** The record's bucket, where the coordinator also reads each flow run's key. */
  readonly store: RecordStore | SweepStore;
  /**
   * How long after its flow returned a run may wait for outcomes before a sweep marks the
   * missing ones Crashed (a message lost, a fleet stuck). @default 3600
   */
  readonly overdueSeconds?: number;
  /**
   * How long a caller that wrote no heartbeat (one from before heartbeats) may go silent after
   * its run's first segment before the sweep ends the run Crashed; a heartbeat carries its
   * caller's own bound. @default 180
   */
  readonly callerSilenceSeconds?: number;
  /**
   * Records from this queue (or these: one per worker pool) are task messages that kept failing:
   * their task runs end Crashed.
   */
  readonly deadLetterQueueArn?: string | readonly string[];
  /** The flow queue: a durable run whose flow-runner went silent is resumed through it, not ended. */
  readonly flowQueue?: SqsQueue;
}

/**
 * The coordinator's core: the only writer of each flow run's record. It appends the outcomes
 * of a batch to their flow runs' records, one segment per flow run per batch, so a redelivered
 * outcome counts once; and turns dead-lettered task messages into Crashed outcomes, so a task
 * that keeps killing its worker fails its flow instead of leaving it waiting. A caller's notice
 * that its flow function returned goes into the record too; the run is marked final in the
 * summary once every task run it sent is. Only messages signed with their flow run's key are
 * recorded: others are rejected (logged and counted once, then deleted), so the record holds
 * nothing but what the run's caller sent and its workers reported.
 *
 * @example
 * const coordinator = createCoordinator({ store, deadLetterQueueArn });
 * export const handler = (event: CoordinatorEvent) => coordinator.handle(event);
 */
export function createCoordinator(options: CoordinatorOptions) {
  const sweepable = "list" in options.store ? options.store : undefined;
  const overdueMs = (options.overdueSeconds ?? 3600) * 1000;
  const runKeys = new RunKeys(async (key) => {
    const found = await options.store.read(key);
    return found && found !== "unchanged" ? found.bytes : undefined;
  });
  const rejections = new Rejections("coordinator");
  const callerSilence = sweepable && new CallerSilence(sweepable, runKeys, options.callerSilenceSeconds);
  const silentDrivers = options.flowQueue && new SilentDrivers(options.store, runKeys, options.flowQueue);

  type Item = CoordinatorEvent["Records"][number];
  const deadLetterArns: readonly string[] = [options.deadLetterQueueArn ?? []].flat();

  /** What a message says, once its signature is checked: nothing when it is rejected. */
  async function read(item: Item): Promise<{ outcomes: Outcome[]; returned?: FlowReturned }> {
    const deadLettered = item.eventSourceARN !== undefined && deadLetterArns.includes(item.eventSourceARN);
    const checked = await authenticate(item.body, deadLettered ? "tasks" : "completions", runKeys);
    if (!checked.ok) {
      rejections.reject(item, checked.reason, checked.detail, "It was deleted; nothing was recorded.");
      return { outcomes: [] };
    }
    if (deadLettered) {
      const parsed = parseValue(TaskMessageSchema, checked.json);
      if (!parsed.ok) {
        rejections.reject(item, "malformed", parsed.reason, "It was deleted; nothing was recorded.");
        return { outcomes: [] };
      }
      const message = parsed.value;
      // The dead-letter queue keeps the receive count; receiving it here added one.
      const deliveries = Number(item.attributes?.ApproximateReceiveCount ?? 0);
      const times = Math.max(deliveries - 1, 0);
      return { outcomes: message.tasks.map((task) => crashedOutcome(message, task, times)) };
    }
    const parsed = parseValue(OutcomeMessageSchema, checked.json);
    if (!parsed.ok) {
      rejections.reject(item, "malformed", parsed.reason, "It was deleted; nothing was recorded.");
      return { outcomes: [] };
    }
    const message = parsed.value;
    if ("returned" in message) return { outcomes: [], returned: message.returned };
    const { worker, outcomes } = message;
    // Runs that started there ran there; a run reported crashed or skipped ran nowhere.
    for (const outcome of outcomes) {
      if (worker !== undefined && outcome.startedAt !== undefined) outcome.worker ??= worker;
    }
    return { outcomes };
  }

  /** A run's caller marks it open before it sends anything (`record/open-runs.ts`); it closes here. */
  async function unmarkOpen(flowRunId: string) {
    await sweepable?.delete(openRunKey(flowRunId)).catch(() => {});
  }

  /**
   * Ends the runs that would otherwise never end: a summary its writer never finished is
   * repaired from the segments; a run whose caller went silent (no flow-returned notice, no
   * heartbeat for as long as the caller allowed) ends Crashed; runs still without an outcome
   * long after their flow returned are marked Crashed. A run the bucket fails for is left to
   * the next sweep; the others are swept all the same.
   */
  async function sweep(now = Date.now()): Promise<{ swept: number; callersSilent: number }> {
    if (!sweepable) return { swept: 0, callersSilent: 0 };
    const results = await mapLimit(await sweepable.list(OPEN_PREFIX), SWEEPS_AT_ONCE, async (key) => {
      const flowRunId = key.slice(OPEN_PREFIX.length);
      try {
        return await sweepRun(sweepable, flowRunId, key, now);
      } catch (error) {
        process.stderr.write(
          `squall coordinator: could not sweep flow run ${flowRunId}, the next sweep tries again: ${toError(error).message}\n`,
        );
        return { swept: 0, callerSilent: false };
      }
    });
    return {
      swept: results.reduce((sum, run) => sum + run.swept, 0),
      callersSilent: results.filter((run) => run.callerSilent).length,
    };
  }

  async function sweepRun(
    store: SweepStore,
    flowRunId: string,
    key: string,
    now: number,
  ): Promise<{ swept: number; callerSilent: boolean }> {
    // The segments are the truth: a summary their writer never finished is repaired first.
    const { summary } = await repairSummary(store, flowRunId);
    if (summary?.state !== undefined) {
      await store.delete(key).catch(() => {});
      return { swept: 0, callerSilent: false };
    }
    const notice = summary?.returned;
    if (!notice) {
      const silent = await callerSilence?.crashedNotice(flowRunId, key, now);
      if (!silent) return { swept: 0, callerSilent: false };
      let crashed = silent.notice;
      // A durable run is resumed instead, up to a point.
      const driver = await silentDrivers?.handle(flowRunId, now, silent.boundMs);
      if (driver && driver.action !== "end") return { swept: 0, callerSilent: true };
      if (driver) {
        crashed = {
          ...crashed,
          message: `${crashed.message} Its flow-runner went silent after each of ${driver.resumes} resumes by the sweep: the run ends here.`,
        };
      }
      const { summary: after } = await appendToRecord(store, flowRunId, [], crashed);
      if (after.state !== undefined) await store.delete(key).catch(() => {});
      return { swept: 0, callerSilent: true };
    }
    if (now - notice.endedAt < overdueMs) return { swept: 0, callerSilent: false };
    const terminal = TerminalIds.fromJSON(summary.terminal);
    const missing = [...TerminalIds.fromJSON(notice.sent).ids()].filter((id) => !terminal.has(id));
    const minutes = Math.round(overdueMs / 60_000);
    const crashedRuns = missing.map((taskRunId) =>
      overdueOutcome(
        flowRunId,
        taskRunId,
        `no outcome came within ${minutes} minutes after its flow returned (a message was lost, or the worker fleet is stuck)`,
      ),
    );
    const { summary: after } = await appendToRecord(store, flowRunId, crashedRuns);
    if (after.state !== undefined) await store.delete(key).catch(() => {});
    return { swept: crashedRuns.length, callerSilent: false };
  }

  return {
    sweep,
    /** Messages this instance rejected, by reason (each also logged once, as a metric line). */
    rejected: () => rejections.counts(),
    async handle(event: CoordinatorEvent | SweepEvent, context?: InvocationContext): Promise<BatchResponse> {
      const remaining = context?.getRemainingTimeInMillis?.();
      // A record write or a key read that fails is tried again while the invocation has time:
      // a failed item would wait out its visibility timeout.
      const ends = remaining === undefined ? undefined : Date.now() + remaining;
      if (!("Records" in event)) {
        await sweep();
        return { batchItemFailures: [] };
      }
      const byRun = new Map<
        string,
        { outcomes: Outcome[]; returned: FlowReturned | undefined; items: Set<string> }
      >();
      const runOf = (flowRunId: string) => {
        let run = byRun.get(flowRunId);
        if (!run) {
          run = { outcomes: [], returned: undefined, items: new Set<string>() };
          byRun.set(flowRunId, run);
        }
        return run;
      };
      const failed = new Set<string>();
      const reads = await Promise.all(
        event.Records.map((record) =>
          retryWithin(ends, () => read(record)).catch((error) => {
            // The bucket did not give the run's key: delivered again, later.
            process.stderr.write(
              `squall coordinator: could not read a flow run's key, its message comes back: ${toError(error).message}\n`,
            );
            failed.add(record.messageId);
            return { outcomes: [] as Outcome[], returned: undefined };
          }),
        ),
      );
      event.Records.forEach((record, i) => {
        const { outcomes, returned } = reads[i] as Awaited<ReturnType<typeof read>>;
        for (const outcome of outcomes) {
          const run = runOf(outcome.flowRunId);
          run.outcomes.push(outcome);
          run.items.add(record.messageId);
        }
        if (returned) {
          const run = runOf(returned.flowRunId);
          run.returned = returned;
          run.items.add(record.messageId);
        }
      });
      await Promise.all(
        [...byRun].map(async ([flowRunId, run]) => {
          try {
            // A repeat after a failure (even one whose writes S3 applied) finds what it wrote
            // in the segments and adds nothing twice. A run already final has no marker: one
            // goes back while its segment is written, so that a summary left behind it (this
            // instance dying in between) is still repaired.
            let reopened = false;
            const { becameFinal } = await retryWithin(ends, () =>
              appendToRecord(options.store, flowRunId, run.outcomes, run.returned, async (before) => {
                if (before.state === undefined || reopened || !sweepable) return;
                reopened = true;
                await markRunOpen(sweepable, flowRunId);
              }),
            );
            if (becameFinal || reopened) await unmarkOpen(flowRunId);
          } catch (error) {
            process.stderr.write(
              `squall coordinator: could not record flow run ${flowRunId}, its messages come back: ${toError(error).message}\n`,
            );
            for (const item of run.items) failed.add(item); // delivered again; repeats are dropped
          }
        }),
      );
      return { batchItemFailures: [...failed].map((itemIdentifier) => ({ itemIdentifier })) };
    },
  };
}
