// What a synchronous invocation of the flow-runner answers for a completed run. Lambda refuses a
// response above 6 MB, and the run's result would be lost with it: a result that would not fit
// is stored under the flow run's prefix in the bucket, and the answer says where and how large.
import { SquallError } from "../../errors.js";
import { runPrefix } from "../../storage/keys.js";
import type { ResultStore } from "../../storage/result-store.js";

/** Lambda's limit on the response of a synchronous invocation: 6 MB. */
export const INVOKE_RESPONSE_LIMIT_BYTES = 6 * 1024 * 1024;

/** Kept under the limit, so that an answer near it is never refused for a few bytes counted otherwise. */
export const RESPONSE_SLACK_BYTES = 1024;

/** What identifies a completed flow run in the flow-runner's answer. */
export interface CompletedRun {
  readonly flowRunId: string;
  readonly flowRunName: string;
  readonly flowName: string;
  readonly state: "Completed";
}

/**
 * What a synchronous invocation returns for a flow run that Completed: its result inline, or,
 * where the answer would exceed Lambda's limit, the key of the result's JSON in the stack's
 * bucket (`runs/<flowRunId>/flow-result`) and its size in bytes.
 */
export type FlowRunnerResult =
  | (CompletedRun & { readonly result: unknown })
  | (CompletedRun & { readonly resultKey: string; readonly size: number });

export interface AnswerOptions {
  /** Where a result too large to answer is stored: the stack's bucket, opened only when needed. */
  readonly store?: () => ResultStore;
  /** The most an answer may take, in bytes of JSON. @default INVOKE_RESPONSE_LIMIT_BYTES */
  readonly maxResponseBytes?: number;
}

/** The key a flow run's result is stored under when it is too large to answer. */
export function flowResultKey(flowRunId: string): string {
  return `${runPrefix(flowRunId)}flow-result`;
}

/** The answer for `run` with `result`: inline if its JSON fits under the limit, else by reference. */
export async function invokeAnswer(
  run: CompletedRun,
  result: unknown,
  options: AnswerOptions = {},
): Promise<FlowRunnerResult> {
  // JSON has no undefined: a flow that returns nothing answers `result: null`, not no result.
  const inline = { ...run, result: result === undefined ? null : result };
  const limit = (options.maxResponseBytes ?? INVOKE_RESPONSE_LIMIT_BYTES) - RESPONSE_SLACK_BYTES;
  if (Buffer.byteLength(JSON.stringify(inline)) <= limit) return inline;
  const bytes = Buffer.from(JSON.stringify(result));
  if (!options.store) {
    throw new SquallError(
      `Flow run '${run.flowRunName}' (${run.flowRunId}) Completed, but its result (${bytes.byteLength} bytes of JSON) is more than a Lambda invocation may answer, and the flow-runner has no bucket to store it in: give it the stack's SQUALL_* variables, or return a smaller result (a key to where the data is).`,
    );
  }
  const resultKey = flowResultKey(run.flowRunId);
  await options.store().put(resultKey, bytes);
  return { ...run, resultKey, size: bytes.byteLength };
}
