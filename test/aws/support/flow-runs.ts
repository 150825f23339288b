// The flow runs a deployed stack's bucket records, read with the harness's own rights: which
// runs there are, and each one's summary and outcomes once it is final.
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { type RunSummary, readSegments, readSummary } from "../../../sdk/aws/record/run-log.js";
import { S3ResultStore } from "../../../sdk/aws/s3-store.js";
import type { Outcome } from "../../../sdk/aws/wire/messages.js";
import type { DeployedStack } from "../harness/deployed-stack.js";

function storeOf(stack: DeployedStack): S3ResultStore {
  return new S3ResultStore({ bucket: stack.outputs.BucketName as string, client: stack.admin.s3 });
}

/** The ids of the flow runs that have anything under runs/. */
export async function flowRunIds(stack: DeployedStack): Promise<string[]> {
  const ids: string[] = [];
  let token: string | undefined;
  do {
    const page = await stack.admin.s3.send(
      new ListObjectsV2Command({
        Bucket: stack.outputs.BucketName,
        Prefix: "runs/",
        Delimiter: "/",
        ContinuationToken: token,
      }),
    );
    for (const prefix of page.CommonPrefixes ?? []) ids.push((prefix.Prefix ?? "").slice(5, -1));
    token = page.NextContinuationToken;
  } while (token);
  return ids;
}

export interface FinishedRun {
  readonly summary: RunSummary | undefined;
  /** Each task run's final outcome (`completed`, `failed`, `crashed`, `cancelled`), by task run id. */
  readonly tasks: Readonly<Record<string, string>>;
  /** The outcomes recorded, every attempt's included. */
  readonly outcomes: readonly Outcome[];
}

/** The run's record once its summary has a final state, or as it is when `timeoutMs` runs out. */
export async function finishedRun(
  stack: DeployedStack,
  flowRunId: string,
  timeoutMs = 20_000,
): Promise<FinishedRun> {
  const store = storeOf(stack);
  const until = Date.now() + timeoutMs;
  let summary = await readSummary(store, flowRunId);
  while (!summary?.state && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    summary = await readSummary(store, flowRunId);
  }
  const { segments } = await readSegments(store, flowRunId, 0);
  const outcomes = segments.flatMap((segment) => segment.outcomes);
  const tasks: Record<string, string> = {};
  for (const outcome of outcomes) {
    if (outcome.status !== "retrying") tasks[outcome.taskRunId] ??= outcome.status;
  }
  return { summary, tasks, outcomes };
}
