import { randomUUID } from "node:crypto";
import { pathToFileURL } from "node:url";
import { defaultSerializer } from "squall";
import { type Emulator, S3ResultStore, startEmulator } from "squall/aws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCoordinator } from "../../sdk/aws/coordinator/coordinator.js";
import { EventSourcePoller } from "../../sdk/aws/local/poller.js";
import { SqsQueue } from "../../sdk/aws/queue.js";
import { readSegments } from "../../sdk/aws/record/run-log.js";
import {
  type Outcome,
  type TaskMessage,
  type TaskRecord,
  WIRE_VERSION,
} from "../../sdk/aws/wire/messages.js";
import { createTaskWorker, type SqsEvent } from "../../sdk/aws/worker/task-worker.js";
import { moduleHash } from "../../sdk/registry.js";
import "../fixtures/pipe-tasks.js";
import { TestSigner } from "../support/signing.js";

const MODULE = pathToFileURL(new URL("../fixtures/pipe-tasks.ts", import.meta.url).pathname).href;

let emulator: Emulator;
let store: S3ResultStore;
/** The flow runs' caller: their keys in the pipeline's bucket, their task messages signed. */
let signer: TestSigner;
let tasks: SqsQueue;
const pollers: EventSourcePoller[] = [];

beforeAll(async () => {
  emulator = await startEmulator();
  const sqs = emulator.sqsClient();
  const id = randomUUID().slice(0, 8);
  const deadLetters = new SqsQueue({ url: await emulator.createQueue(`dlq-${id}`), client: sqs });
  tasks = new SqsQueue({
    url: await emulator.createQueue(`tasks-${id}`, { deadLetterUrl: deadLetters.url, maxReceiveCount: 2 }),
    client: sqs,
  });
  const completions = new SqsQueue({ url: await emulator.createQueue(`completions-${id}`), client: sqs });
  await emulator.createBucket(`runs-${id}`);
  store = new S3ResultStore({ bucket: `runs-${id}`, client: emulator.s3Client() });
  signer = new TestSigner(store);

  const worker = createTaskWorker({ tasks, completions, store });
  // A worker that dies (its invocation fails) whenever a message holds `killsItsWorker`.
  const dyingWorker = async (event: SqsEvent) => {
    if (event.Records.some((r) => r.body.includes('"killsItsWorker"'))) throw new Error("worker died");
    return worker.handle(event);
  };
  const coordinator = createCoordinator({ store, deadLetterQueueArn: "dlq" });
  pollers.push(
    new EventSourcePoller({
      queue: tasks,
      handler: dyingWorker,
      eventSourceArn: "tasks",
      visibilitySeconds: 1,
    }),
    new EventSourcePoller({ queue: completions, handler: coordinator.handle, eventSourceArn: "completions" }),
    new EventSourcePoller({ queue: deadLetters, handler: coordinator.handle, eventSourceArn: "dlq" }),
  );
  for (const poller of pollers) poller.start();
});
afterAll(async () => {
  await Promise.all(pollers.map((poller) => poller.stop()));
  await emulator.stop();
});

function record(task: string, n: number): TaskRecord {
  return {
    taskRunId: `beef00-${n.toString(36)}`,
    taskRunName: `${task}-${n}`,
    task,
    module: MODULE,
    codeHash: moduleHash(MODULE) as string,
    attempt: 1,
    serializer: "default",
    args: { text: new TextDecoder().decode(defaultSerializer.serialize([n])) },
    logPrints: false,
    tags: [],
  };
}

/** The flow run's record once it holds `count` final outcomes (or what it holds after 20 s). */
async function finalOutcomes(flowRunId: string, count: number): Promise<Outcome[]> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const { segments } = await readSegments(store, flowRunId, 0);
    const final = segments.flatMap((s) => s.outcomes).filter((o) => o.status !== "retrying");
    if (final.length >= count || Date.now() > deadline) return final;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("the pipeline on the embedded emulator: task queue, worker, completion queue, coordinator, record", () => {
  it("records one outcome per task run sent", async () => {
    const flowRunId = randomUUID();
    const records = Array.from({ length: 30 }, (_, i) => record("squareInPipe", i + 1));
    const message: TaskMessage = {
      v: WIRE_VERSION,
      flowRunId,
      flowRunName: "x",
      flowName: "f",
      tasks: records,
    };
    await tasks.send([await signer.taskBody(message)]);

    const outcomes = await finalOutcomes(flowRunId, 30);

    expect(outcomes.map((o) => o.status)).toEqual(Array(30).fill("completed"));
    const values = outcomes.map((o) =>
      defaultSerializer.deserialize(new TextEncoder().encode((o.payload as { text: string }).text)),
    );
    expect(values.sort((a, b) => (a as number) - (b as number))).toEqual(records.map((_, i) => (i + 1) ** 2));
  });

  it("turns a task whose worker dies every time into a Crashed outcome via the dead-letter queue", async () => {
    const flowRunId = randomUUID();
    const message: TaskMessage = {
      v: WIRE_VERSION,
      flowRunId,
      flowRunName: "x",
      flowName: "f",
      tasks: [record("killsItsWorker", 99)],
    };
    await tasks.send([await signer.taskBody(message)]);

    const [outcome] = await finalOutcomes(flowRunId, 1);

    expect(outcome?.status).toBe("crashed");
    expect(outcome?.taskRunId).toBe("beef00-2r");
  });
});
