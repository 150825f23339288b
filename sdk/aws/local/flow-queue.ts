// The local environment's flow queue, as the stack's (`cdk/squall.ts`): with its dead-letter
// queue, hiding a run's message for the flow-runner's timeout and 30 s more, and feeding the
// flow-runner one message per invocation, several invocations at once.

import type { Emulator } from "../emulator.js";
import { FLOW_QUEUE_MAX_RECEIVE_COUNT, flowQueueVisibilitySeconds } from "../flow-queue.js";
import type { FunctionThreadSetup } from "./function-thread.js";

/** The flow queue and its dead-letter queue, by URL and ARN. */
export interface LocalFlowQueue {
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly deadLetterUrl: string;
  readonly deadLetterArn: string;
  readonly visibilitySeconds: number;
}

/** Creates the flow queue of environment `id` for a flow-runner with this timeout. */
export async function createFlowQueue(
  emulator: Emulator,
  id: string,
  flowRunnerTimeoutSeconds: number,
  arnOf: (url: string) => Promise<string>,
): Promise<LocalFlowQueue> {
  const visibilitySeconds = flowQueueVisibilitySeconds(flowRunnerTimeoutSeconds);
  const deadLetterUrl = await emulator.createQueue(`squall-flows-dlq-${id}`);
  const queueUrl = await emulator.createQueue(`squall-flows-${id}`, {
    visibilityTimeoutSeconds: visibilitySeconds,
    deadLetterUrl,
    maxReceiveCount: FLOW_QUEUE_MAX_RECEIVE_COUNT,
  });
  const [queueArn, deadLetterArn] = await Promise.all([queueUrl, deadLetterUrl].map(arnOf));
  return {
    queueUrl,
    queueArn: queueArn as string,
    deadLetterUrl,
    deadLetterArn: deadLetterArn as string,
    visibilitySeconds,
  };
}

/**
 * The event source mapping that feeds the flow-runner: `concurrency` pollers taking one message
 * each, so that as many runs go on at once (Lambda would run each in an environment of its own).
 */
export function flowQueueSources(queue: LocalFlowQueue, concurrency: number): FunctionThreadSetup["sources"] {
  const source = {
    queueUrl: queue.queueUrl,
    eventSourceArn: queue.queueArn,
    batchSize: 1,
    batchingWindowMs: 0,
    visibilitySeconds: queue.visibilitySeconds,
  };
  return Array.from({ length: concurrency }, () => source);
}

/** The coordinator's source on the flow queue's dead-letter queue: runs given up on, to end. */
export function flowDeadLetterSource(
  queue: LocalFlowQueue,
  visibilitySeconds: number,
): FunctionThreadSetup["sources"][number] {
  return {
    queueUrl: queue.deadLetterUrl,
    eventSourceArn: queue.deadLetterArn,
    batchSize: 10,
    batchingWindowMs: 0,
    visibilitySeconds,
  };
}
