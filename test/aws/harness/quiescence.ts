// When a deployment has nothing left to do: no Event invocation waiting or being retried, no
// message on (or in flight from) a queue a function polls, and no invocation under way, for
// longer than the longest batching window, so that a message sent by the last invocation has had
// its chance to be picked up.
import { GetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { AsyncInvoker } from "./async-invoker.js";
import type { LambdaFunction } from "./lambda-function.js";

export interface Activity {
  readonly sqs: SQSClient;
  readonly polledQueueUrls: readonly string[];
  readonly functions: readonly LambdaFunction[];
  readonly asyncInvokers: readonly AsyncInvoker[];
  readonly quietMs: number;
}

/** Resolves true once quiet, false if still busy at `timeoutMs`. */
export async function waitForQuiet(activity: Activity, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  let quietSince: number | undefined;
  while (Date.now() < until) {
    const busy =
      (await Promise.all([asyncBusy(activity), queuesBusy(activity)])).some(Boolean) || invoking(activity);
    if (busy) quietSince = undefined;
    else {
      quietSince ??= Date.now();
      if (Date.now() - quietSince >= activity.quietMs) return true;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

async function asyncBusy(activity: Activity): Promise<boolean> {
  return activity.asyncInvokers.some((invoker) => invoker.pending > 0);
}

function invoking(activity: Activity): boolean {
  return activity.functions.some((fn) =>
    fn.invocations.some((invocation) => invocation.endedAt === undefined),
  );
}

async function queuesBusy(activity: Activity): Promise<boolean> {
  const counts = await Promise.all(
    activity.polledQueueUrls.map(async (url) => {
      const { Attributes = {} } = await activity.sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: url,
          AttributeNames: [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
          ],
        }),
      );
      return Object.values(Attributes).reduce((sum, n) => sum + Number(n), 0);
    }),
  );
  return counts.some((n) => n > 0);
}
