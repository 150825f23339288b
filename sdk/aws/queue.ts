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

/** Which bodies of a send SQS took, and why it finally refused the others, by index into the bodies. */
export interface SendReport {
  readonly accepted: readonly number[];
  readonly refused: readonly { readonly index: number; readonly reason: string }[];
}

/** Rounds a failed entry (or call) is sent again before it counts as refused. */
const MAX_RESENDS = 8;
/** The longest wait between rounds: enough for SQS to recover from throttling, short for a caller. */
const MAX_RESEND_WAIT_MS = 5_000;

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
   * Sends every body, or throws a {@link QueueSendError} naming why the first refused one was
   * (the others may have gone through). A sender that must know which went through uses
   * {@link sendEach}.
   */
  async send(bodies: readonly string[], options: SendOptions = {}): Promise<void> {
    const { refused } = await this.sendEach(bodies, options);
    const first = refused[0];
    if (first) {
      throw new QueueSendError(
        `Could not send ${refused.length} of ${bodies.length} messages to ${this.url}: ${first.reason}`,
      );
    }
  }

  /**
   * Sends every body, ten to a SendMessageBatch call (fewer when they are large), and reports
   * which SQS took and which it finally refused. Entries SQS reports as failed for its own reasons
   * (throttling, internal errors), and calls that fail for them after the SDK's retries, are sent
   * again, entry by entry, so that one failure never costs the others; a body is refused only when
   * SQS blames the sender, or still fails after several rounds. A call whose answer was lost may
   * have gone through: sending it again may enqueue a body twice, which at-least-once delivery allows.
   */
  async sendEach(bodies: readonly string[], options: SendOptions = {}): Promise<SendReport> {
    const delay = options.delaySeconds ?? 0;
    if (!Number.isInteger(delay) || delay < 0 || delay > SQS_MAX_DELAY_SECONDS) {
      throw new InvalidArgumentError(
        `Expected \`delaySeconds\` to be an integer from 0 to ${SQS_MAX_DELAY_SECONDS}, got \`${String(delay)}\``,
      );
    }
    const accepted: number[] = [];
    const refused: { index: number; reason: string }[] = [];
    // Ten to a call, and no more bytes per call than SQS takes.
    let start = 0;
    const batches = batchMessages(bodies).map((batch) => {
      const first = start;
      start += batch.length;
      return this.#sendBatch(batch, first, delay, accepted, refused);
    });
    await Promise.all(batches);
    return { accepted: accepted.sort((a, b) => a - b), refused: refused.sort((a, b) => a.index - b.index) };
  }

  async #sendBatch(
    bodies: readonly string[],
    first: number,
    delay: number,
    accepted: number[],
    refused: { index: number; reason: string }[],
  ): Promise<void> {
    let entries = bodies.map((body, i) => ({
      Id: String(first + i),
      MessageBody: body,
      DelaySeconds: delay,
    }));
    const index = (entry: { Id?: string }) => Number(entry.Id);
    for (let round = 0; entries.length > 0; round++) {
      if (round > 0) await new Promise((resolve) => setTimeout(resolve, resendWaitMs(round)));
      let answer: SendMessageBatchCommandOutput;
      try {
        answer = await this.#client.send(
          new SendMessageBatchCommand({ QueueUrl: this.url, Entries: entries }),
        );
      } catch (error) {
        // The caller's mistake (no such queue, no permission) will not mend by trying again.
        if (isCallersMistake(error) || round >= MAX_RESENDS) {
          const reason = toError(error).message;
          for (const entry of entries) refused.push({ index: index(entry), reason });
          return;
        }
        continue;
      }
      const retry = new Set<string>();
      for (const failure of answer.Failed ?? []) {
        if (failure.SenderFault || round >= MAX_RESENDS) {
          const why = failure.SenderFault ? "SQS refused it" : `SQS kept failing it ${round + 1} times`;
          refused.push({
            index: Number(failure.Id),
            reason: `${why}: ${failure.Code}: ${failure.Message ?? ""}`,
          });
        } else if (failure.Id !== undefined) retry.add(failure.Id);
      }
      for (const success of answer.Successful ?? []) accepted.push(Number(success.Id));
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

/** The wait before resend round `round` (from 1): exponential, capped, with full jitter so that calls failed together spread out. */
function resendWaitMs(round: number): number {
  return Math.random() * Math.min(MAX_RESEND_WAIT_MS, 100 * 2 ** round);
}

/** Whether SQS blamed the caller for a call, and not its own load: throttling is a client error that mends. */
function isCallersMistake(error: unknown): boolean {
  const { $fault, $retryable, name } = error as {
    $fault?: string;
    $retryable?: { throttling?: boolean };
    name?: string;
  };
  if ($fault !== "client" || $retryable?.throttling) return false;
  return !/Throttl|TooManyRequests|RequestLimitExceeded/.test(name ?? "");
}
