// What the tests of run records share: outcomes to record, a bucket on the test emulator, and
// reading a run's record back.
import { randomUUID } from "node:crypto";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { S3ResultStore } from "squall/aws";
import { afterAll, beforeAll, inject } from "vitest";
import {
  type RecordStore,
  type RunSummary,
  readSegments,
  readSummary,
} from "../../sdk/aws/record/run-log.js";
import type { Outcome } from "../../sdk/aws/wire/messages.js";

/** The id of task run number `n` in the outcomes below. */
export const taskRunIdOf = (n: number) => `abc123-${n.toString(36)}`;

/** Task run `n`'s outcome, in `status`, carrying `J<n>` and ended at `n`. */
export function outcome(flowRunId: string, n: number, status: Outcome["status"] = "completed"): Outcome {
  return {
    flowRunId,
    taskRunId: taskRunIdOf(n),
    attempt: 1,
    status,
    serializer: "default",
    payload: { text: `J${n}` },
    endedAt: n,
    logs: [],
  };
}

/** A new bucket on the test emulator for this file's tests; its client is closed after them. */
export function emulatorBucket(prefix: string): { readonly client: S3Client; readonly store: S3ResultStore } {
  const bucket = `${prefix}-${randomUUID().slice(0, 8)}`;
  const client = new S3Client({
    endpoint: inject("emulatorEndpoint"),
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });
  beforeAll(async () => {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  afterAll(() => client.destroy());
  return { client, store: new S3ResultStore({ bucket, client }) };
}

/** The run's summary once it is final, read every 100 ms; as it stands after `ms` if it never is. */
export async function finalSummary(
  store: RecordStore,
  flowRunId: string,
  ms = 20_000,
): Promise<RunSummary | undefined> {
  for (const end = Date.now() + ms; ; await new Promise((resolve) => setTimeout(resolve, 100))) {
    const summary = await readSummary(store, flowRunId);
    if (summary?.state !== undefined || Date.now() > end) return summary;
  }
}

/**
 * Every outcome the record holds, by task run id, in the order written; `retrying` outcomes
 * (attempts that retried) left out when `finalOnly`.
 */
export async function recordedByRun(
  store: RecordStore,
  flowRunId: string,
  { finalOnly = false } = {},
): Promise<Map<string, Outcome[]>> {
  const { segments } = await readSegments(store, flowRunId, 0);
  const outcomes = new Map<string, Outcome[]>();
  for (const outcome of segments.flatMap((segment) => segment.outcomes)) {
    if (finalOnly && outcome.status === "retrying") continue;
    outcomes.set(outcome.taskRunId, [...(outcomes.get(outcome.taskRunId) ?? []), outcome]);
  }
  return outcomes;
}
