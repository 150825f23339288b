// The flow queue: a message there starts or resumes a durable flow run on the flow-runner. The
// stack (`cdk/squall.ts`) and the local environment set it up alike from these numbers.

/** The coordinator's variable naming the flow queue's dead-letter queue, whose runs it ends. */
export const FLOW_DEAD_LETTER_ARN_VARIABLE = "SQUALL_FLOW_DEAD_LETTER_QUEUE_ARN";

/**
 * Deliveries of a flow-queue message before it goes to the dead-letter queue: AWS's advised
 * minimum, as a throttled event source raises receive counts without invoking anything.
 */
export const FLOW_QUEUE_MAX_RECEIVE_COUNT = 5;

/**
 * How much longer than the flow-runner's timeout a flow-queue message stays hidden: an
 * invocation that hands its run on just before its timeout has deleted its message by then, and
 * one that died leaves its run to come back soon after, not six timeouts later.
 */
export const FLOW_QUEUE_VISIBILITY_MARGIN_SECONDS = 30;

/** The flow queue's visibility timeout for a flow-runner with this timeout. */
export function flowQueueVisibilitySeconds(flowRunnerTimeoutSeconds: number): number {
  return flowRunnerTimeoutSeconds + FLOW_QUEUE_VISIBILITY_MARGIN_SECONDS;
}
