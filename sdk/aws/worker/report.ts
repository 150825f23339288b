import type { SqsQueue } from "../queue.js";
import { type Outcome, type TaskMessage, type TaskRecord, WIRE_VERSION } from "../wire/messages.js";
import { packMessages, SQS_MAX_BYTES } from "../wire/pack.js";
import { SEAL_BYTES } from "../wire/seal.js";
import { type BatchKeys, signFor } from "./batch-keys.js";
import { fitting } from "./outcome-size.js";
import { stalledOutcome } from "./outcomes.js";
import { WORKER_ID } from "./worker-id.js";

/** What running a batch's messages came to. */
export interface Handled {
  outcomes: Outcome[];
  retries: { record: TaskRecord; delay: number; message: TaskMessage }[];
  /** Runs the bucket failed (not the task): sent back, or given up on after `maxDeaths` times. */
  stalled: { record: TaskRecord; message: TaskMessage; error: Error }[];
  /**
   * Runs of a task module this worker loaded before it changed (the local environment): sent
   * back at once, to a worker that loads the module as it is now.
   */
  reloads: { record: TaskRecord; message: TaskMessage }[];
  /**
   * Runs that found no free slot of a limited tag (`tag-leases.ts`): sent back, delayed by a few
   * seconds, as messages of their own. Not a death nor a stall: they never started.
   */
  deferred: { record: TaskRecord; message: TaskMessage; delay: number }[];
}

export interface ReportOptions {
  /** Where retries and stalled runs go back to, delayed. */
  readonly tasks: SqsQueue;
  /** Where outcomes go. */
  readonly completions: SqsQueue;
  /** Times a stalled run is sent back before it ends Crashed. */
  readonly maxDeaths: number;
  /** How long a stalled run waits before it is tried again. */
  readonly stallDelaySeconds: number;
}

/**
 * Queues the retries and the runs the bucket failed, then sends the outcomes: once they are
 * out, the runs count as handled. A run sent back for the bucket's sake is not a death (the
 * worker lived), so it goes back as a message of its own rather than a batch item failure.
 */
export async function report(
  { outcomes, retries, stalled, reloads, deferred }: Handled,
  keys: BatchKeys,
  options: ReportOptions,
): Promise<void> {
  const later = new Map<number, string[]>(); // delay in seconds → bodies, one send for each delay
  const sendLater = (delay: number, message: TaskMessage) => {
    const bodies = later.get(delay) ?? [];
    bodies.push(signFor(keys, message.flowRunId, "tasks", JSON.stringify(message)));
    later.set(delay, bodies);
  };
  for (const { record, delay, message } of retries) {
    sendLater(delay, { ...message, tasks: [{ ...record, attempt: record.attempt + 1 }] });
  }
  for (const { record, message } of reloads) sendLater(0, { ...message, tasks: [record] });
  for (const { record, message, delay } of deferred) sendLater(delay, { ...message, tasks: [record] });
  const givenUp: Outcome[] = [];
  for (const { record, message, error } of stalled) {
    const stalls = (message.stalls ?? 0) + 1;
    if (stalls >= options.maxDeaths) givenUp.push(stalledOutcome(message, record, stalls, error));
    else sendLater(options.stallDelaySeconds, { ...message, tasks: [record], stalls });
  }
  await Promise.all([...later].map(([delay, bodies]) => options.tasks.send(bodies, { delaySeconds: delay })));
  const all = givenUp.length > 0 ? [...outcomes, ...givenUp] : outcomes;
  if (all.length > 0) await options.completions.send(packOutcomes(all, keys));
}

/** Outcome messages, one flow run's outcomes each (each signed with its run's key). */
export function packOutcomes(outcomes: readonly Outcome[], keys: BatchKeys): string[] {
  const byRun = new Map<string, string[]>();
  for (const outcome of outcomes) {
    const records = byRun.get(outcome.flowRunId) ?? [];
    records.push(fitting(outcome));
    byRun.set(outcome.flowRunId, records);
  }
  return [...byRun].flatMap(([flowRunId, records]) =>
    packMessages(
      `{"v":${WIRE_VERSION},"flowRunId":${JSON.stringify(flowRunId)},"worker":${JSON.stringify(WORKER_ID)},"outcomes":[`,
      records,
      "]}",
      { maxMessageBytes: SQS_MAX_BYTES - SEAL_BYTES },
    ).map((body) => signFor(keys, flowRunId, "completions", body)),
  );
}
