// A queue that feeds a function, with its own dead-letter queue: a message the function keeps
// failing on is set aside after `maxReceiveCount` deliveries instead of blocking or looping.
import { Duration } from "aws-cdk-lib";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";

export interface WorkQueueProps {
  /** The timeout of the function it feeds: messages stay hidden six times as long (AWS's guidance). */
  readonly consumerTimeout: Duration;
  /** Deliveries of a message before it moves to the dead-letter queue. */
  readonly maxReceiveCount: number;
  /**
   * How long a received message stays hidden, when not six times `consumerTimeout` (at least
   * `consumerTimeout`, as Lambda requires of an event source). @default 6 × `consumerTimeout`
   */
  readonly visibilityTimeout?: Duration;
  /** The timeout of the function the dead-letter queue feeds, if it feeds one (`feedsDeadLetters`). */
  readonly deadLetterConsumerTimeout?: Duration;
}

export interface FeedOptions {
  readonly batchSize: number;
  readonly maxBatchingWindow: Duration;
  /** @default Lambda's: as many concurrent invocations as the account allows */
  readonly maxConcurrency?: number;
}

export class WorkQueue extends Construct {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;

  constructor(scope: Construct, id: string, props: WorkQueueProps) {
    super(scope, id);
    const { maxReceiveCount } = props;
    if (!Number.isInteger(maxReceiveCount) || maxReceiveCount < 1 || maxReceiveCount > 1000) {
      throw new Error(
        `Expected \`maxReceiveCount\` to be an integer from 1 to 1000, got \`${maxReceiveCount}\``,
      );
    }
    // SQS-managed encryption: encrypted at rest with no KMS key to pay for, rotate, or grant
    // kms:Decrypt on to every producer and consumer.
    const secure = { encryption: QueueEncryption.SQS_MANAGED, enforceSSL: true } as const;
    const hiddenWhile = (timeout: Duration) => Duration.seconds(6 * timeout.toSeconds());
    const visibilityTimeout = props.visibilityTimeout ?? hiddenWhile(props.consumerTimeout);
    this.deadLetterQueue = new Queue(this, "DeadLetters", {
      ...secure,
      // The longest SQS keeps a message: time to look into what was given up on.
      retentionPeriod: Duration.days(14),
      visibilityTimeout: props.deadLetterConsumerTimeout && hiddenWhile(props.deadLetterConsumerTimeout),
    });
    this.queue = new Queue(this, "Queue", {
      ...secure,
      visibilityTimeout,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount },
    });
  }

  /** Invokes `target` with batches of messages; it reports the ones it failed (partial batch responses). */
  feeds(target: IFunction, options: FeedOptions): void {
    target.addEventSource(new SqsEventSource(this.queue, { ...options, reportBatchItemFailures: true }));
  }

  /** Invokes `target` with batches of dead-lettered messages, reported like `feeds`. */
  feedsDeadLetters(target: IFunction, options: FeedOptions): void {
    target.addEventSource(
      new SqsEventSource(this.deadLetterQueue, { ...options, reportBatchItemFailures: true }),
    );
  }
}
