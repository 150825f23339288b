import {
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SendMessageBatchCommandOutput,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { InvalidArgumentError, SquallError, toError } from "../errors.js";
import { batchMessages, SQS_MAX_BATCH, SQS_MAX_DELAY_SECONDS } from "./wire/pack.js";

/** One message as a consumer sees it. */
export interface ReceivedMessage {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly body: string;
  /** How many times SQS has delivered it, this time included. */
  readonly receiveCount: number;
}

export interface SendOptions {
  /** Holds the messages back this long before they can be received (at most 900). @default 0 */
  readonly delaySeconds?: number;
}

/** Sends SQS refused as the sender's fault, or kept failing (after the SDK's own retries). */
export class QueueSendError extends SquallError {}

const MAX_RESENDS = 5;

/**
 * One SQS queue, with the few calls the runner needs, batched. The client is given an explicit
 * endpoint and never takes the queue URL as one (an emulator's queue URLs may name a host that
 * does not resolve).
 *
 * @example
 * const tasks = new SqsQueue({ url: taskQueueUrl, client });
 * await tasks.send(bodies);
 */
export class SqsQueue {
  readonly url: string;
  readonly #client: SQSClient;

  constructor(options: { readonly url: string; readonly client: SQSClient }) {
    if (typeof options?.url !== "string" || !options.url) {
      throw new InvalidArgumentError(`Expected \`url\` to be a queue URL, got \`${String(options?.url)}\``);
    }
    this.url = options.url;
    this.#client = options.client;
  }

  /**
   * Sends every body, ten to a SendMessageBatch call (fewer when they are large). Entries SQS
   * reports as failed for its own reasons (throttling, internal errors), and calls that fail
   * for them after the SDK's retries, are sent again, so none is dropped; a call that went
   * through is never repeated, so a failure of one call does not send the others twice.
   */
  async send(bodies: readonly string[], options: SendOptions = {}): Promise<void> {
    const delay = options.delaySeconds ?? 0;
    if (!Number.isInteger(delay) || delay < 0 || delay > SQS_MAX_DELAY_SECONDS) {
      throw new InvalidArgumentError(
        `Expected \`delaySeconds\` to be an integer from 0 to ${SQS_MAX_DELAY_SECONDS}, got \`${String(delay)}\``,
      );
    }
    // Ten to a call, and no more bytes per call than SQS takes.
    await Promise.all(batchMessages(bodies).map((batch) => this.#sendBatch(batch, delay)));
  }

  async #sendBatch(bodies: readonly string[], delay: number): Promise<void> {
    let entries = bodies.map((body, i) => ({ Id: String(i), MessageBody: body, DelaySeconds: delay }));
    for (let round = 0; entries.length > 0; round++) {
      let answer: SendMessageBatchCommandOutput;
      try {
        answer = await this.#client.send(
          new SendMessageBatchCommand({ QueueUrl: this.url, Entries: entries }),
        );
      } catch (error) {
        // The caller's mistake (no such queue, no permission) will not mend by trying again.
        if ((error as { $fault?: string }).$fault === "client" || round >= MAX_RESENDS) {
          throw new QueueSendError(`Could not send to ${this.url}: ${toError(error).message}`, {
            cause: error,
          });
        }
        await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** round));
        continue;
      }
      const failed = answer.Failed ?? [];
      const senderFault = failed.find((entry) => entry.SenderFault);
      if (senderFault) {
        throw new QueueSendError(`SQS refused a message: ${senderFault.Code}: ${senderFault.Message ?? ""}`);
      }
      if (failed.length > 0 && round >= MAX_RESENDS) {
        throw new QueueSendError(
          `SQS kept failing ${failed.length} messages: ${failed[0]?.Code ?? "unknown"}`,
        );
      }
      const retry = new Set(failed.map((entry) => entry.Id));
      entries = entries.filter((entry) => retry.has(entry.Id));
    }
  }

  /** Up to `max` messages (at most 10), waiting up to `waitSeconds` for the first (long polling). */
  async receive(
    options: {
      readonly max?: number;
      readonly waitSeconds?: number;
      readonly visibilitySeconds?: number;
      /** Ends a long poll early: the receive rejects. */
      readonly signal?: AbortSignal;
    } = {},
  ): Promise<ReceivedMessage[]> {
    const answer = await this.#client.send(
      new ReceiveMessageCommand({
        QueueUrl: this.url,
        MaxNumberOfMessages: Math.min(options.max ?? SQS_MAX_BATCH, SQS_MAX_BATCH),
        WaitTimeSeconds: options.waitSeconds ?? 0,
        VisibilityTimeout: options.visibilitySeconds,
        MessageSystemAttributeNames: ["ApproximateReceiveCount"],
      }),
      { abortSignal: options.signal },
    );
    return (answer.Messages ?? []).map((message) => ({
      messageId: message.MessageId ?? "",
      receiptHandle: message.ReceiptHandle ?? "",
      body: message.Body ?? "",
      receiveCount: Number(message.Attributes?.ApproximateReceiveCount ?? 1),
    }));
  }

  /** Deletes handled messages, ten to a call. */
  async delete(receiptHandles: readonly string[]): Promise<void> {
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < receiptHandles.length; i += SQS_MAX_BATCH) {
      const entries = receiptHandles.slice(i, i + SQS_MAX_BATCH).map((handle, j) => ({
        Id: String(j),
        ReceiptHandle: handle,
      }));
      calls.push(this.#client.send(new DeleteMessageBatchCommand({ QueueUrl: this.url, Entries: entries })));
    }
    await Promise.all(calls);
  }

  /** Makes a received message visible again after `seconds` (0: at once, for a failed item). */
  async release(receiptHandle: string, seconds = 0): Promise<void> {
    await this.#client.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: this.url,
        ReceiptHandle: receiptHandle,
        VisibilityTimeout: seconds,
      }),
    );
  }
}
