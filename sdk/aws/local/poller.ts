import { InvalidArgumentError } from "../../errors.js";
import type { ReceivedMessage, SqsQueue } from "../queue.js";

/** An SQS event record as Lambda's event source mapping builds it (the fields squall's handlers read). */
export interface PolledRecord {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly body: string;
  readonly eventSourceARN: string;
  /** `aws:sqs`, by which a handler fed by several kinds of event knows this one. */
  readonly eventSource: "aws:sqs";
  readonly attributes: { readonly ApproximateReceiveCount: string };
}

export type PolledHandler = (
  event: { readonly Records: readonly PolledRecord[] },
  context: { getRemainingTimeInMillis(): number },
) => Promise<{ readonly batchItemFailures: readonly { readonly itemIdentifier: string }[] } | undefined>;

export interface PollerOptions {
  readonly queue: SqsQueue;
  readonly handler: PolledHandler;
  /** Names the queue in each record, as Lambda does with the queue's ARN. */
  readonly eventSourceArn: string;
  /** Most messages per invocation. @default 10 */
  readonly batchSize?: number;
  /** How long to gather a batch before invoking. @default 0 */
  readonly batchingWindowMs?: number;
  /** How long a received message stays hidden; a message not deleted by then is delivered again. @default 30 */
  readonly visibilitySeconds?: number;
  /** How long an invocation may run, as the function's timeout: its context counts down from it. @default 60 */
  readonly timeoutSeconds?: number;
  /** Told the receipt handles of each batch before the handler gets it, and again once it is settled. */
  readonly onHolding?: (receiptHandles: readonly string[], holding: boolean) => void;
}

/**
 * Emulates a Lambda event source mapping for SQS: receives batches, invokes the handler,
 * deletes what it handled, and leaves what it reported as failed (or everything, if it threw)
 * to come back after the visibility timeout, and to the dead-letter queue after the queue's
 * maxReceiveCount. The local environment drives the same handlers Lambda calls through it.
 *
 * @example
 * const poller = new EventSourcePoller({ queue: tasks, handler: worker.handle, eventSourceArn: "tasks" });
 * poller.start();
 * // ...
 * await poller.stop();
 */
export class EventSourcePoller {
  readonly #options: PollerOptions;
  #running = false;
  #loop: Promise<void> | undefined;
  /** Ends the long poll under way when stopping, which would otherwise hold a stop up to a second. */
  #polling = new AbortController();

  constructor(options: PollerOptions) {
    const batchSize = options.batchSize ?? 10;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10) {
      throw new InvalidArgumentError(
        `Expected \`batchSize\` to be an integer from 1 to 10, got \`${String(batchSize)}\``,
      );
    }
    this.#options = options;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#polling = new AbortController();
    this.#loop = this.#run();
  }

  /**
   * Stops polling and waits for the invocation in progress, if any. With `finishPoll`, a long
   * poll under way ends on its own (and what it receives is invoked with) rather than being
   * aborted: a message the emulator hands to an aborted poll stays hidden, held by no one, for
   * its whole visibility timeout.
   */
  async stop(options?: { readonly finishPoll?: boolean }): Promise<void> {
    this.#running = false;
    if (!options?.finishPoll) this.#polling.abort();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const { queue, batchSize = 10, batchingWindowMs = 0, visibilitySeconds = 30 } = this.#options;
    while (this.#running) {
      let messages: ReceivedMessage[] = [];
      try {
        const signal = this.#polling.signal;
        messages = await queue.receive({ max: batchSize, waitSeconds: 1, visibilitySeconds, signal });
        const until = Date.now() + batchingWindowMs;
        while (this.#running && messages.length > 0 && messages.length < batchSize && Date.now() < until) {
          // A receive that fails while a batch gathers ends the gathering: the messages already
          // received are invoked with, not left to come back after their visibility timeout.
          const more = await queue
            .receive({ max: batchSize - messages.length, visibilitySeconds })
            .catch(() => []);
          if (more.length === 0) break;
          messages.push(...more);
        }
      } catch {
        if (!this.#running) break; // the poll was ended by stop()
        await new Promise((resolve) => setTimeout(resolve, 200)); // the queue is unreachable for now
        continue;
      }
      if (messages.length > 0) await this.#invoke(messages);
    }
  }

  async #invoke(messages: ReceivedMessage[]): Promise<void> {
    const handles = messages.map((message) => message.receiptHandle);
    this.#options.onHolding?.(handles, true);
    try {
      await this.#invokeHandler(messages);
    } finally {
      this.#options.onHolding?.(handles, false);
    }
  }

  async #invokeHandler(messages: ReceivedMessage[]): Promise<void> {
    const Records = messages.map((message) => ({
      messageId: message.messageId,
      receiptHandle: message.receiptHandle,
      body: message.body,
      eventSourceARN: this.#options.eventSourceArn,
      eventSource: "aws:sqs" as const,
      attributes: { ApproximateReceiveCount: String(message.receiveCount) },
    }));
    let failed: Set<string>;
    try {
      const deadline = Date.now() + (this.#options.timeoutSeconds ?? 60) * 1000;
      const context = { getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()) };
      const response = await this.#options.handler({ Records }, context);
      failed = new Set((response?.batchItemFailures ?? []).map((item) => item.itemIdentifier));
    } catch {
      return; // the invocation failed: every message comes back after its visibility timeout
    }
    const handled = messages.filter((message) => !failed.has(message.messageId));
    if (handled.length > 0)
      await this.#options.queue.delete(handled.map((message) => message.receiptHandle)).catch(() => {});
  }
}
