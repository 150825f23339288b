// Driving the worker function's core by hand: task records and messages as a caller packs them,
// queues and a bucket on the shared emulator, and the outcomes the worker sent.
import { randomUUID } from "node:crypto";
import { fileURLToPath, pathToFileURL } from "node:url";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { CreateQueueCommand, SQSClient } from "@aws-sdk/client-sqs";
import { defaultSerializer } from "squall";
import { S3ResultStore } from "squall/aws";
import { SqsQueue } from "../../sdk/aws/queue.js";
import {
  type Outcome,
  type TaskMessage,
  type TaskRecord,
  WIRE_VERSION,
} from "../../sdk/aws/wire/messages.js";
import { moduleHash } from "../../sdk/registry.js";
import { TestSigner } from "./signing.js";

const CREDENTIALS = { accessKeyId: "squall-local", secretAccessKey: "squall-local" };

/** A task queue, a completion queue and a bucket of their own on the emulator at `endpoint`. */
export async function workerResources(endpoint: string, name: string) {
  const s3 = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials: CREDENTIALS });
  const sqs = new SQSClient({
    endpoint,
    region: "us-east-1",
    credentials: CREDENTIALS,
    useQueueUrlAsEndpoint: false,
  });
  const id = `${name}-${randomUUID().slice(0, 8)}`;
  const queue = async (prefix: string) => {
    const created = await sqs.send(new CreateQueueCommand({ QueueName: `${prefix}-${id}` }));
    return new SqsQueue({ url: created.QueueUrl as string, client: sqs });
  };
  await s3.send(new CreateBucketCommand({ Bucket: id }));
  const store = new S3ResultStore({ bucket: id, client: s3 });
  signer = new TestSigner(store);
  return {
    bucket: id,
    signer,
    tasks: await queue("tasks"),
    completions: await queue("completions"),
    store,
    close() {
      s3.destroy();
      sqs.destroy();
    },
  };
}

/** A fixture module as a caller names it to a worker: its file URL and its code hash. */
export function fixtureModule(name: string): { module: string; codeHash: string } {
  const module = pathToFileURL(fileURLToPath(new URL(`../fixtures/${name}.ts`, import.meta.url))).href;
  return { module, codeHash: moduleHash(module) as string };
}

let serial = 0;

/** A task record as a caller sends it: attempt 1 of `task` from `module`, with `args`. */
export function taskRecord(
  module: string,
  codeHash: string,
  task: string,
  args: unknown[],
  extra: Partial<TaskRecord> = {},
): TaskRecord {
  serial += 1;
  return {
    taskRunId: `feed${process.pid.toString(36)}-${serial.toString(36)}`,
    taskRunName: `${task}-${serial}`,
    task,
    module,
    codeHash,
    attempt: 1,
    serializer: "default",
    args: { text: new TextDecoder().decode(defaultSerializer.serialize(args)) },
    logPrints: false,
    tags: [],
    ...extra,
  };
}

export function taskMessage(records: TaskRecord[], flowRunId: string = randomUUID()): TaskMessage {
  return { v: WIRE_VERSION, flowRunId, flowRunName: "witty-otter", flowName: "tests", tasks: records };
}

/**
 * The SQS event that delivers these messages to the worker, signed as their caller would (with
 * keys written to the bucket of the last `workerResources`).
 */
export async function sqsEvent(...messages: TaskMessage[]) {
  if (!signer) throw new Error("Call workerResources() before sqsEvent().");
  return signer.event(...messages);
}

let signer: TestSigner | undefined;

/** Every outcome on the completion queue now, received and deleted. */
export async function outcomesOf(queue: SqsQueue): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (;;) {
    const received = await queue.receive({ max: 10, waitSeconds: 0 });
    if (received.length === 0) return outcomes;
    for (const m of received) outcomes.push(...(JSON.parse(m.body) as { outcomes: Outcome[] }).outcomes);
    await queue.delete(received.map((m) => m.receiptHandle));
  }
}

/** An outcome's result or error, as the caller decodes it. */
export function decoded(outcome: Outcome | undefined): unknown {
  const payload = outcome?.payload;
  if (!payload || !("text" in payload))
    throw new Error(`Expected an inline payload, got ${JSON.stringify(payload)}`);
  return defaultSerializer.deserialize(new TextEncoder().encode(payload.text));
}
