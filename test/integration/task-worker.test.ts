import { randomUUID } from "node:crypto";
import { pathToFileURL } from "node:url";
import { defaultSerializer, TaskTimeoutError } from "squall";
import { type Emulator, S3ResultStore, startEmulator } from "squall/aws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SqsQueue } from "../../sdk/aws/queue.js";
import {
  type Outcome,
  type TaskMessage,
  type TaskRecord,
  WIRE_VERSION,
} from "../../sdk/aws/wire/messages.js";
import { createTaskWorker } from "../../sdk/aws/worker/task-worker.js";
import { moduleHash } from "../../sdk/registry.js";
import "../fixtures/lambda-tasks.js";

const MODULE = pathToFileURL(new URL("../fixtures/lambda-tasks.ts", import.meta.url).pathname).href;
const CODE_HASH = moduleHash(MODULE) as string;

let emulator: Emulator;
let tasks: SqsQueue;
let completions: SqsQueue;
let store: S3ResultStore;
let worker: ReturnType<typeof createTaskWorker>;

beforeAll(async () => {
  emulator = await startEmulator();
  const sqs = emulator.sqsClient();
  const id = randomUUID().slice(0, 8);
  tasks = new SqsQueue({ url: await emulator.createQueue(`tasks-${id}`), client: sqs });
  completions = new SqsQueue({ url: await emulator.createQueue(`completions-${id}`), client: sqs });
  await emulator.createBucket(`results-${id}`);
  store = new S3ResultStore({ bucket: `results-${id}`, client: emulator.s3Client() });
  worker = createTaskWorker({ tasks, completions, store, inlineBytes: 1_000 });
});
afterAll(async () => {
  await emulator.stop();
});

let serial = 0;
function record(task: string, args: unknown[], extra: Partial<TaskRecord> = {}): TaskRecord {
  serial += 1;
  return {
    taskRunId: `feed-${serial.toString(36)}`,
    taskRunName: `${task}-${serial}`,
    task,
    module: MODULE,
    codeHash: CODE_HASH,
    attempt: 1,
    serializer: "default",
    args: { text: new TextDecoder().decode(defaultSerializer.serialize(args)) },
    logPrints: false,
    tags: [],
    ...extra,
  };
}

function message(records: TaskRecord[]): TaskMessage {
  return {
    v: WIRE_VERSION,
    flowRunId: randomUUID(),
    flowRunName: "witty-otter",
    flowName: "tests",
    tasks: records,
  };
}

async function outcomesOf(queue: SqsQueue, waitSeconds = 0): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (;;) {
    const received = await queue.receive({ max: 10, waitSeconds });
    if (received.length === 0) return outcomes;
    for (const m of received) outcomes.push(...(JSON.parse(m.body) as { outcomes: Outcome[] }).outcomes);
    await queue.delete(received.map((m) => m.receiptHandle));
  }
}

const decode = (outcome: Outcome | undefined) =>
  outcome?.payload && "text" in outcome.payload
    ? defaultSerializer.deserialize(new TextEncoder().encode(outcome.payload.text))
    : undefined;

describe("the worker function's core", () => {
  it("runs several task runs of one message by name and reports each outcome with its output", async () => {
    const body = message([record("greetInLambda", ["arthur"]), record("greetInLambda", ["ford"])]);

    const response = await worker.handle({ Records: [{ messageId: "m1", body: JSON.stringify(body) }] });

    expect(response.batchItemFailures).toEqual([]);
    const outcomes = await outcomesOf(completions);
    expect(outcomes.map((o) => o.status)).toEqual(["completed", "completed"]);
    expect(outcomes.map(decode)).toEqual(["hi arthur", "hi ford"]);
    expect(outcomes[0]?.logs).toEqual([
      { stream: "stdout", text: "hello arthur" },
      expect.objectContaining({
        level: "INFO",
        message: "greeted arthur",
        taskRunName: `greetInLambda-${serial - 1}`,
      }),
    ]);
  });

  it("re-queues a failed attempt with retries left, delayed, and reports it as retrying", async () => {
    const body = message([record("failsFirstInLambda", [])]);

    await worker.handle({ Records: [{ messageId: "m2", body: JSON.stringify(body) }] });

    const [first] = await outcomesOf(completions);
    expect(first?.status).toBe("retrying");
    expect(decode(first)).toBeInstanceOf(TypeError);
    expect(await tasks.receive()).toEqual([]); // held back by its delay
    const [requeued] = await tasks.receive({ waitSeconds: 5 });
    const next = JSON.parse(requeued?.body ?? "{}") as TaskMessage;
    expect(next.tasks[0]?.attempt).toBe(2);
    await tasks.delete([requeued?.receiptHandle as string]);

    await worker.handle({ Records: [{ messageId: "m3", body: JSON.stringify(next) }] });
    const [second] = await outcomesOf(completions);
    expect(second?.status).toBe("completed");
    expect(decode(second)).toBe("second attempt");
  });

  it("reports a failure without retries as failed, with the task's own error", async () => {
    await worker.handle({
      Records: [{ messageId: "m4", body: JSON.stringify(message([record("alwaysFailsInLambda", [])])) }],
    });

    const [outcome] = await outcomesOf(completions);
    expect(outcome?.status).toBe("failed");
    expect(decode(outcome)).toMatchObject({ name: "RangeError", message: "out of range" });
  });

  it("turns an unknown task, a changed module and a malformed message into failed outcomes, not a failed batch", async () => {
    const unknown = message([record("noSuchTask", [])]);
    const changed = message([record("greetInLambda", ["x"], { codeHash: "0000" })]);
    const malformed = {
      ...message([record("greetInLambda", ["y"])]),
      tasks: [{ taskRunId: "feed-zz", attempt: "one" }],
    };

    const response = await worker.handle({
      Records: [
        { messageId: "u", body: JSON.stringify(unknown) },
        { messageId: "c", body: JSON.stringify(changed) },
        { messageId: "m", body: JSON.stringify(malformed) },
        { messageId: "j", body: "{not json" },
      ],
    });

    expect(response.batchItemFailures).toEqual([]);
    const outcomes = await outcomesOf(completions);
    expect(outcomes.map((o) => o.status)).toEqual(["failed", "failed", "failed"]);
    expect((decode(outcomes[0]) as Error).message).toContain("found no task named 'noSuchTask'");
    expect((decode(outcomes[1]) as Error).message).toContain("differs from the caller's: redeploy");
    expect((decode(outcomes[2]) as Error).message).toContain(
      "could not be read: the message does not fit its schema at `tasks.0",
    );
    expect(outcomes[2]?.taskRunId).toBe("feed-zz");
  });

  it("stores a result too large to travel inline and reports its key", async () => {
    const body = message([record("bigInLambda", [5_000])]);
    await worker.handle({ Records: [{ messageId: "b", body: JSON.stringify(body) }] });

    const [outcome] = await outcomesOf(completions);
    expect(outcome?.payload).toEqual({
      key: `runs/${body.flowRunId}/results/${body.tasks[0]?.taskRunId}`,
      size: expect.any(Number),
    });
    const key = (outcome?.payload as { key?: string } | undefined)?.key ?? "";
    const bytes = await store.get(key);
    expect((defaultSerializer.deserialize(bytes as Uint8Array) as string).length).toBe(5_000);
  });

  it("fails an attempt at its deadline and aborts its signal", async () => {
    const body = message([record("slowInLambda", [], { timeoutMs: 100 })]);
    await worker.handle({ Records: [{ messageId: "s", body: JSON.stringify(body) }] });

    const [outcome] = await outcomesOf(completions);
    expect(outcome?.status).toBe("failed");
    expect(decode(outcome)).toBeInstanceOf(TaskTimeoutError);
  });
});
