import { randomUUID } from "node:crypto";
import { defaultSerializer, TaskTimeoutError } from "squall";
import { type Emulator, S3ResultStore, startEmulator } from "squall/aws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SqsQueue } from "../../sdk/aws/queue.js";
import type { TaskMessage, TaskRecord } from "../../sdk/aws/wire/messages.js";
import { createTaskWorker } from "../../sdk/aws/worker/task-worker.js";
import "../fixtures/lambda-tasks.js";
import { TestSigner } from "../support/signing.js";
import { decoded, fixtureModule, outcomesOf, taskMessage, taskRecord } from "../support/worker-harness.js";

const { module: MODULE, codeHash: CODE_HASH } = fixtureModule("lambda-tasks");

let emulator: Emulator;
let tasks: SqsQueue;
let completions: SqsQueue;
let store: S3ResultStore;
let signer: TestSigner;
let worker: ReturnType<typeof createTaskWorker>;

beforeAll(async () => {
  emulator = await startEmulator();
  const sqs = emulator.sqsClient();
  const id = randomUUID().slice(0, 8);
  tasks = new SqsQueue({ url: await emulator.createQueue(`tasks-${id}`), client: sqs });
  completions = new SqsQueue({ url: await emulator.createQueue(`completions-${id}`), client: sqs });
  await emulator.createBucket(`results-${id}`);
  store = new S3ResultStore({ bucket: `results-${id}`, client: emulator.s3Client() });
  signer = new TestSigner(store);
  worker = createTaskWorker({ tasks, completions, store, inlineBytes: 1_000 });
});
afterAll(async () => {
  await emulator.stop();
});

const record = (task: string, args: unknown[], extra: Partial<TaskRecord> = {}) =>
  taskRecord(MODULE, CODE_HASH, task, args, extra);

/** The SQS event delivering `message`, signed as its caller would (its run's key in the worker's bucket). */
const delivered = async (messageId: string, message: TaskMessage) => ({
  Records: [{ messageId, body: await signer.taskBody(message) }],
});

describe("the worker function's core", () => {
  it("runs several task runs of one message by name and reports each outcome with its output", async () => {
    const arthur = record("greetInLambda", ["arthur"]);
    const body = taskMessage([arthur, record("greetInLambda", ["ford"])]);

    const response = await worker.handle(await delivered("m1", body));

    expect(response.batchItemFailures).toEqual([]);
    const outcomes = await outcomesOf(completions);
    expect(outcomes.map((o) => o.status)).toEqual(["completed", "completed"]);
    expect(outcomes.map(decoded)).toEqual(["hi arthur", "hi ford"]);
    expect(outcomes[0]?.logs).toEqual([
      { stream: "stdout", text: "hello arthur" },
      expect.objectContaining({
        level: "INFO",
        message: "greeted arthur",
        taskRunName: arthur.taskRunName,
      }),
    ]);
  });

  it("re-queues a failed attempt with retries left, delayed, and reports it as retrying", async () => {
    const body = taskMessage([record("failsFirstInLambda", [])]);

    await worker.handle(await delivered("m2", body));

    const [first] = await outcomesOf(completions);
    expect(first?.status).toBe("retrying");
    expect(decoded(first)).toBeInstanceOf(TypeError);
    expect(await tasks.receive()).toEqual([]); // held back by its delay
    const [requeued] = await tasks.receive({ waitSeconds: 5 });
    const next = JSON.parse(requeued?.body ?? "{}") as TaskMessage;
    expect(next.tasks[0]?.attempt).toBe(2);
    await tasks.delete([requeued?.receiptHandle as string]);

    // As the worker signed it, with the run's key.
    await worker.handle({ Records: [{ messageId: "m3", body: requeued?.body as string }] });
    const [second] = await outcomesOf(completions);
    expect(second?.status).toBe("completed");
    expect(decoded(second)).toBe("second attempt");
  });

  it("reports a failure without retries as failed, with the task's own error", async () => {
    await worker.handle(await delivered("m4", taskMessage([record("alwaysFailsInLambda", [])])));

    const [outcome] = await outcomesOf(completions);
    expect(outcome?.status).toBe("failed");
    expect(decoded(outcome)).toMatchObject({ name: "RangeError", message: "out of range" });
  });

  it("turns an unknown task, a changed module and a malformed message into failed outcomes, not a failed batch", async () => {
    const unknown = taskMessage([record("noSuchTask", [])]);
    const changed = taskMessage([record("greetInLambda", ["x"], { codeHash: "0000" })]);
    // Signed by the run's caller, but not fitting the schema: the run it names fails, the entry
    // that names no task run cannot be answered for (it is counted as rejected).
    const malformed = {
      ...taskMessage([record("greetInLambda", ["y"])]),
      tasks: [{ taskRunId: "feed-zz", attempt: "one" }, { attempt: 1 }],
    };
    const response = await worker.handle({
      Records: [
        { messageId: "u", body: await signer.taskBody(unknown) },
        { messageId: "c", body: await signer.taskBody(changed) },
        {
          messageId: "m",
          body: await signer.sign("tasks", malformed.flowRunId, JSON.stringify(malformed)),
        },
        { messageId: "j", body: await signer.sign("tasks", randomUUID(), "{not json") },
      ],
    });

    expect(response.batchItemFailures).toEqual([]);
    // Each run is reported as it ends, so in the order they end.
    const outcomes = await outcomesOf(completions);
    const of = (taskRunId: string | undefined) => outcomes.find((o) => o.taskRunId === taskRunId);
    expect(outcomes.map((o) => o.status)).toEqual(["failed", "failed", "failed"]);
    expect((decoded(of(unknown.tasks[0]?.taskRunId)) as Error).message).toContain(
      "found no task named 'noSuchTask'",
    );
    expect((decoded(of(changed.tasks[0]?.taskRunId)) as Error).message).toContain(
      "differs from the caller's: redeploy",
    );
    expect((decoded(of("feed-zz")) as Error).message).toContain(
      "could not be read: the message does not fit its schema at `tasks.0",
    );
    expect(worker.rejected()).toEqual({ malformed: 1, "not-json": 1 });
  });

  it("stores a result too large to travel inline and reports its key", async () => {
    const body = taskMessage([record("bigInLambda", [5_000])]);
    await worker.handle(await delivered("b", body));

    const [outcome] = await outcomesOf(completions);
    expect(outcome?.payload).toEqual({
      // A key of this execution's own: attempt 1, then 8 random hex digits.
      key: expect.stringMatching(
        new RegExp(`^runs/${body.flowRunId}/results/${body.tasks[0]?.taskRunId}-1-[0-9a-f]{8}$`),
      ),
      size: expect.any(Number),
    });
    const key = (outcome?.payload as { key?: string } | undefined)?.key ?? "";
    const bytes = await store.get(key);
    expect((defaultSerializer.deserialize(bytes as Uint8Array) as string).length).toBe(5_000);
  });

  it("fails an attempt at its deadline and aborts its signal", async () => {
    const body = taskMessage([record("slowInLambda", [], { timeoutMs: 100 })]);
    await worker.handle(await delivered("s", body));

    const [outcome] = await outcomesOf(completions);
    expect(outcome?.status).toBe("failed");
    expect(decoded(outcome)).toBeInstanceOf(TaskTimeoutError);
  });
});
