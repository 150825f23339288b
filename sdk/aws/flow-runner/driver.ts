import { randomUUID } from "node:crypto";
import type { FlowRunState } from "../../engine/flow-run.js";
import type { FlowStarter } from "../../registry.js";
import { type DurableRun, driveDurably } from "../durable/durable-runs.js";
import type { Journal } from "../durable/journal.js";
import type { SqsQueue } from "../queue.js";
import { SQS_MAX_DELAY_SECONDS } from "../wire/pack.js";
import { sendResume } from "./resume-message.js";

/** This invocation, as it signs the journal entries it writes. */
export const DRIVER_ID = randomUUID();

/** What driving a durable run needs: where to hand it on when this invocation nears its end. */
export interface DriveOptions {
  readonly flowQueue: SqsQueue;
  /** The invocation's time left when it began, from Lambda's context; none: never hand on. */
  readonly remainingMs: number | undefined;
}

/** Who the run is and what it has: from its start, or its start record and journal on resume. */
export interface DrivenRun {
  readonly flowRunId: string;
  readonly flowRunName: string;
  readonly startedAt: number;
  readonly key: Uint8Array;
  readonly journal: Journal;
  readonly resumed: boolean;
}

export type DriveResult =
  | { readonly ended: true; readonly final: FlowRunState<unknown> }
  | { readonly ended: false; readonly handedOn: true };

/**
 * Runs the flow function of a durable run in this invocation: from the start, or again from
 * the top to catch up with its record (its task runs' ids follow its call order, so those the
 * record holds resolve from it and those out are awaited). Shortly before the invocation's end
 * it stops sending, and hands the run on to a new invocation through the flow queue; the flow
 * function is left behind unfinished, as Lambda freezes it.
 */
export async function driveRun(
  start: FlowStarter,
  args: unknown[],
  run: DrivenRun,
  options: DriveOptions,
): Promise<DriveResult> {
  const durable: DurableRun = {
    flowRunId: run.flowRunId,
    key: run.key,
    journal: run.journal,
    resumed: run.resumed,
    since: Date.now(),
    suspended: false,
    quiet: [],
  };
  const unregister = driveDurably(durable);
  let timer: NodeJS.Timeout | undefined;
  try {
    const started = start(args, undefined, {
      id: run.flowRunId,
      name: run.flowRunName,
      startTime: run.startedAt,
    });
    const { remainingMs } = options;
    const handOffAt =
      remainingMs === undefined ? undefined : Date.now() + remainingMs - handoffMarginMs(remainingMs);
    const nearEnd = new Promise<{ reason: string; resumeAt: number }>((resolve) => {
      if (handOffAt === undefined) return;
      timer = setTimeout(
        () => resolve({ reason: "handoff", resumeAt: 0 }),
        Math.max(handOffAt - Date.now(), 0),
      );
      // A sleep that ends after this invocation could hand on is waited out with no function running.
      durable.sleeping = (endsAt) => {
        if (endsAt > handOffAt) resolve({ reason: "sleep", resumeAt: endsAt });
      };
    });
    const first = await Promise.race([started.final, nearEnd]);
    if ("type" in first) return { ended: true, final: first };
    durable.suspended = true;
    await Promise.all(durable.quiet.map((quiet) => quiet()));
    const delaySeconds = Math.min(
      Math.max(Math.ceil((first.resumeAt - Date.now()) / 1000), 0),
      SQS_MAX_DELAY_SECONDS,
    );
    await sendResume(
      options.flowQueue,
      run.key,
      run.flowRunId,
      { from: run.journal.snapshotAt, reason: first.reason },
      delaySeconds,
    );
    return { ended: false, handedOn: true };
  } finally {
    clearTimeout(timer);
    unregister();
  }
}

/**
 * How long before its end an invocation hands its run on: a tenth of its time, from 1.5 s to
 * 30 s, enough to stop sending and send the resume, short enough to waste little of it.
 */
export function handoffMarginMs(remainingMs: number): number {
  return Math.min(Math.max(remainingMs / 10, 1_500), 30_000);
}
