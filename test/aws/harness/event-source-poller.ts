// A Lambda event source mapping for SQS, built from the template's AWS::Lambda::EventSourceMapping:
// pollers receive with the function's own role (as Lambda polls with the execution role), gather
// a batch (batch size, batching window), invoke the function with Lambda's SQS event, and delete
// what succeeded: everything, or with ReportBatchItemFailures all but the items it reported (an
// invalid report fails the whole batch). A failed invocation deletes nothing: the messages come
// back after the queue's visibility timeout, and go to its dead-letter queue after
// maxReceiveCount receives. As many pollers invoke at once as MaximumConcurrency allows, up to the
// function's environments.
import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { LambdaFunction } from "./lambda-function.js";
import type { MappingSpec } from "./template.js";
import type { Throttles } from "./throttles.js";

export interface PollerConfig {
  readonly mapping: MappingSpec;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly region: string;
  readonly target: LambdaFunction;
  /** Signed with the function's role. */
  readonly sqs: SQSClient;
  readonly throttles: Throttles;
}

/** How long one receive waits for messages (Lambda waits 20 s; shorter stops sooner). */
const WAIT_SECONDS = 2;

export class EventSourcePoller {
  readonly #config: PollerConfig;
  readonly #loops: Promise<void>[] = [];
  readonly #stopping = new AbortController();

  constructor(config: PollerConfig) {
    this.#config = config;
  }

  start(): void {
    const { mapping, target } = this.#config;
    if (!mapping.enabled) return;
    const concurrency = Math.min(
      mapping.maximumConcurrency ?? Number.POSITIVE_INFINITY,
      target.config.maxEnvironments,
    );
    for (let i = 0; i < concurrency; i++) this.#loops.push(this.#poll());
  }

  async stop(): Promise<void> {
    this.#stopping.abort();
    await Promise.all(this.#loops);
  }

  async #poll(): Promise<void> {
    const { throttles, queueArn } = this.#config;
    const signal = this.#stopping.signal;
    while (!signal.aborted) {
      let messages: Message[];
      try {
        messages = await this.#gather(signal);
      } catch {
        if (signal.aborted) return;
        await sleep(200); // the queue refused for now (a fault, a denial): poll again
        continue;
      }
      if (messages.length === 0) continue;
      // Throttled: not invoked, and not released either; they come back when their visibility ends.
      if (throttles.take(queueArn, messages)) continue;
      await this.#invoke(messages).catch(() => {}); // stopping: the messages come back, as on AWS
    }
  }

  /** One batch: a first receive, then more until the batch is full or the batching window ends. */
  async #gather(signal: AbortSignal): Promise<Message[]> {
    const { mapping } = this.#config;
    const messages = await this.#receive(Math.min(mapping.batchSize, 10), WAIT_SECONDS, signal);
    const until = Date.now() + mapping.batchingWindowSeconds * 1000;
    while (
      messages.length > 0 &&
      messages.length < mapping.batchSize &&
      Date.now() < until &&
      !signal.aborted
    ) {
      const more = await this.#receive(Math.min(mapping.batchSize - messages.length, 10), 0, signal);
      if (more.length === 0) await sleep(Math.min(50, until - Date.now()));
      for (const message of more) {
        // Received again within the window (a visibility timeout shorter than the window): the
        // newer receipt is the one that deletes it.
        const earlier = messages.findIndex((m) => m.MessageId === message.MessageId);
        if (earlier >= 0) messages.splice(earlier, 1);
        messages.push(message);
      }
    }
    return messages;
  }

  async #receive(max: number, waitSeconds: number, signal: AbortSignal): Promise<Message[]> {
    const { sqs, queueUrl } = this.#config;
    const answer = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: max,
        WaitTimeSeconds: waitSeconds,
        MessageSystemAttributeNames: ["All"],
        MessageAttributeNames: ["All"],
      }),
      { abortSignal: signal },
    );
    return answer.Messages ?? [];
  }

  async #invoke(messages: Message[]): Promise<void> {
    const { target, mapping, queueArn, region } = this.#config;
    const Records = messages.map((message) => sqsRecord(message, queueArn, region));
    const outcome = await target.invoke({ Records }, "SQS");
    if (!outcome.ok) return;
    let failed = new Set<string>();
    if (mapping.reportBatchItemFailures) {
      const reported = failedItems(outcome.payload, new Set(Records.map((record) => record.messageId)));
      if (reported === "invalid") return;
      failed = reported;
    }
    const done = messages.filter((message) => !failed.has(message.MessageId ?? ""));
    await this.#delete(done.map((message) => message.ReceiptHandle ?? ""));
  }

  async #delete(handles: string[]): Promise<void> {
    const { sqs, queueUrl } = this.#config;
    for (let i = 0; i < handles.length; i += 10) {
      const Entries = handles.slice(i, i + 10).map((ReceiptHandle, j) => ({ Id: String(j), ReceiptHandle }));
      await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries })).catch(() => {});
    }
  }
}

/** The ids a partial batch response reports, or `invalid` when Lambda would fail the whole batch. */
export function failedItems(payload: string, batch: ReadonlySet<string>): Set<string> | "invalid" {
  let response: unknown;
  try {
    response = JSON.parse(payload);
  } catch {
    return "invalid";
  }
  const items = (response as { batchItemFailures?: unknown } | null)?.batchItemFailures;
  if (response === null || items === undefined || (Array.isArray(items) && items.length === 0))
    return new Set();
  if (!Array.isArray(items)) return "invalid";
  const ids = new Set<string>();
  for (const item of items) {
    const id = (item as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== "string" || id === "" || !batch.has(id)) return "invalid";
    ids.add(id);
  }
  return ids;
}

/** A message as Lambda's SQS event carries it. */
export function sqsRecord(message: Message, queueArn: string, region: string) {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId ?? "",
    receiptHandle: message.ReceiptHandle ?? "",
    body: message.Body ?? "",
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? "1",
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? "",
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes: Object.fromEntries(
      Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [
        name,
        {
          stringValue: value.StringValue,
          binaryValue: value.BinaryValue ? Buffer.from(value.BinaryValue).toString("base64") : undefined,
          stringListValues: [],
          binaryListValues: [],
          dataType: value.DataType,
        },
      ]),
    ),
    md5OfBody: message.MD5OfBody ?? "",
    eventSource: "aws:sqs",
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(ms, 0)));
}
