import * as v from "valibot";
import { NonDeterministicFlowError, toError } from "../../errors.js";
import { registeredFlow } from "../../registry.js";
import { Journal } from "../durable/journal.js";
import { readStartRecord } from "../durable/start-record.js";
import { readSummary } from "../record/run-log.js";
import { authenticate } from "../wire/authenticate.js";
import { Rejections } from "../wire/rejections.js";
import { DRIVER_ID, driveRun } from "./driver.js";
import { type Durability, endRunFailed } from "./durability.js";
import { flowResultKey } from "./invoke-answer.js";
import { ResumeMessageSchema } from "./resume-message.js";

/** An SQS event, as the flow queue's event source delivers it. */
export interface FlowQueueEvent {
  readonly Records: readonly {
    readonly messageId: string;
    readonly body: string;
    readonly attributes?: { readonly SenderId?: string };
  }[];
}

export function isFlowQueueEvent(event: unknown): event is FlowQueueEvent {
  return Array.isArray((event as { Records?: unknown } | null)?.Records);
}

const rejections = new Rejections("flow-runner");

/**
 * Drives on the durable runs the flow queue names (one a batch, as the stack maps it). A message
 * not signed with its run's key for the flow queue is rejected unread. A run already final is
 * left alone (a resume sent twice). A run whose flows module changed since it started, or whose
 * flow this deployment lacks, ends Failed saying so. An invocation that dies mid-run fails
 * nothing: the message comes back after its visibility timeout, and the run is resumed again.
 */
export async function resumeRuns(
  event: FlowQueueEvent,
  remainingMs: number | undefined,
  durability: Durability,
): Promise<{ batchItemFailures: { itemIdentifier: string }[] }> {
  const failures: { itemIdentifier: string }[] = [];
  for (const record of event.Records) {
    try {
      await resumeRun(record, remainingMs, durability);
    } catch (error) {
      process.stderr.write(
        `squall flow-runner: could not resume from message ${record.messageId}, which comes back: ${toError(error).stack}\n`,
      );
      failures.push({ itemIdentifier: record.messageId });
    }
  }
  return { batchItemFailures: failures };
}

async function resumeRun(
  record: FlowQueueEvent["Records"][number],
  remainingMs: number | undefined,
  durability: Durability,
): Promise<void> {
  const authenticated = await authenticate(record.body, "flows", durability.keys);
  if (!authenticated.ok) {
    rejections.reject(record, authenticated.reason, authenticated.detail, "Deleted.");
    return;
  }
  const parsed = v.safeParse(ResumeMessageSchema, authenticated.json);
  if (!parsed.success) {
    rejections.reject(record, "malformed", parsed.issues[0].message, "Deleted.");
    return;
  }
  const { flowRunId, resume } = parsed.output;
  const { store } = durability;
  const started = await readStartRecord(store, flowRunId);
  if (!started) {
    process.stderr.write(
      `squall flow-runner: flow run ${flowRunId} has no start record; nothing to resume.\n`,
    );
    return;
  }
  if ((await readSummary(store, flowRunId))?.state !== undefined) return; // final already
  const journal = await Journal.takeOver(store, flowRunId, DRIVER_ID, resume.from);
  const key = authenticated.runKey.key;
  const run = { flowRunId, flowName: started.flow };
  if (started.code !== durability.code) {
    const message = new NonDeterministicFlowError(
      `Flow run '${started.flowRunName}' (${flowRunId}) started under other code (${started.code}) than this flow-runner has (${durability.code}): its flows module changed since, and replaying the new code against the old run's record could resolve its calls with another task's results. Let runs finish before deploying a change to their flows, or start a new run.`,
    ).message;
    await endRunFailed(durability, key, journal, run, message);
    return;
  }
  const start = registeredFlow(started.flow);
  if (!start) {
    const message = `Flow run '${started.flowRunName}' (${flowRunId}) is of flow '${started.flow}', which this deployment no longer has.`;
    await endRunFailed(durability, key, journal, run, message);
    return;
  }
  const driven = await driveRun(
    start,
    started.parameters,
    {
      flowRunId,
      flowRunName: started.flowRunName,
      startedAt: started.startedAt,
      key,
      journal,
      resumed: true,
    },
    { flowQueue: durability.flowQueue, remainingMs },
  );
  // No one awaits this invocation's answer: a completed run's result is kept where
  // `startFlowRun`'s caller can read it (JSON; `null` for a flow that returns nothing).
  if (driven.ended && driven.final.type === "COMPLETED") {
    const result = driven.final.result === undefined ? null : driven.final.result;
    await store.put(flowResultKey(flowRunId), new TextEncoder().encode(JSON.stringify(result)));
  }
}
