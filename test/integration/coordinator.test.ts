import { randomUUID } from "node:crypto";
import { CrashedError, defaultSerializer } from "squall";
import { type Emulator, S3ResultStore, startEmulator } from "squall/aws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCoordinator } from "../../sdk/aws/coordinator/coordinator.js";
import { readSegments, readSummary } from "../../sdk/aws/record/run-log.js";
import { type Outcome, type TaskMessage, WIRE_VERSION } from "../../sdk/aws/wire/messages.js";
import { outcome, taskRunIdOf } from "../support/records.js";
import { TestSigner } from "../support/signing.js";

let emulator: Emulator;
let store: S3ResultStore;
let signer: TestSigner;
const DLQ_ARN = "arn:aws:sqs:us-east-1:000000000000:tasks-dlq";
const POOL_DLQ_ARN = "arn:aws:sqs:us-east-1:000000000000:large-dlq";

beforeAll(async () => {
  emulator = await startEmulator();
  const bucket = `coordinator-${randomUUID().slice(0, 8)}`;
  await emulator.createBucket(bucket);
  store = new S3ResultStore({ bucket, client: emulator.s3Client() });
  signer = new TestSigner(store);
});
afterAll(async () => {
  await emulator.stop();
});

/** A worker's outcome message for one flow run, signed with its key (in the coordinator's bucket). */
const body = (flowRunId: string, outcomes: Outcome[], worker?: string) =>
  signer.outcomesBody(flowRunId, outcomes, worker);

async function summaryOf(flowRunId: string) {
  const summary = await readSummary(store, flowRunId);
  if (!summary) throw new Error(`no summary for flow run ${flowRunId}`);
  return summary;
}

async function recorded(flowRunId: string): Promise<Outcome[]> {
  const { segments } = await readSegments(store, flowRunId, 0);
  return segments.flatMap((segment) => segment.outcomes);
}

describe("the coordinator's core", () => {
  it("appends each flow run's outcomes of a batch to its own record, a redelivered one once", async () => {
    const coordinator = createCoordinator({ store });
    const [a, b] = [randomUUID(), randomUUID()];

    const response = await coordinator.handle({
      Records: [
        { messageId: "1", body: await body(a, [outcome(a, 1)]) },
        { messageId: "2", body: await body(b, [outcome(b, 1)]) },
        { messageId: "3", body: await body(a, [outcome(a, 2)]) },
        { messageId: "4", body: await body(a, [outcome(a, 1)]) }, // delivered again
      ],
    });

    expect(response.batchItemFailures).toEqual([]);
    expect((await recorded(a)).map((o) => o.taskRunId)).toEqual([taskRunIdOf(1), taskRunIdOf(2)]);
    expect((await recorded(b)).map((o) => o.taskRunId)).toEqual([taskRunIdOf(1)]);
    expect((await readSegments(store, a, 0)).segments).toHaveLength(1); // one segment per run per batch
    expect(coordinator.rejected()).toEqual({});
  });

  it("records the worker named once per message on each outcome that ran there", async () => {
    const coordinator = createCoordinator({ store });
    const flowRunId = randomUUID();
    const ran = { ...outcome(flowRunId, 1), startedAt: 0 };
    const skipped = { ...outcome(flowRunId, 2), status: "cancelled" as const }; // never started
    const worker = "2026/11/27/[$LATEST]0f1e2d3c4b5a69788796a5b4c3d2e1f0";
    await coordinator.handle({
      Records: [{ messageId: "1", body: await body(flowRunId, [ran, skipped], worker) }],
    });
    const workers = Object.fromEntries((await recorded(flowRunId)).map((o) => [o.taskRunId, o.worker]));
    expect(workers).toEqual({ [taskRunIdOf(1)]: worker, [taskRunIdOf(2)]: undefined });
  });

  it.each([
    ["the default pool's", DLQ_ARN, DLQ_ARN],
    ["a worker pool's", [DLQ_ARN, POOL_DLQ_ARN], POOL_DLQ_ARN],
  ])(
    "records the task runs of a message from %s dead-letter queue as Crashed, with the reason",
    async (_, deadLetterQueueArn, from) => {
      const coordinator = createCoordinator({ store, deadLetterQueueArn });
      const flowRunId = randomUUID();
      const poison: TaskMessage = {
        v: WIRE_VERSION,
        flowRunId,
        flowRunName: "bold-yak",
        flowName: "f",
        tasks: [
          {
            taskRunId: "cafe01-9",
            taskRunName: "killer-0",
            task: "killer",
            module: "file:///app/flows.js",
            codeHash: "x",
            attempt: 1,
            serializer: "default",
            args: { text: "J[]" },
            logPrints: false,
            tags: [],
          },
        ],
      };

      await coordinator.handle({
        Records: [
          {
            messageId: "d",
            body: await signer.taskBody(poison), // signed for the task queue, whence it was dead-lettered
            eventSourceARN: from,
            attributes: { ApproximateReceiveCount: "4" }, // three deliveries to workers, then the coordinator's own
          },
        ],
      });

      const [crash] = await recorded(flowRunId);
      expect(crash?.status).toBe("crashed");
      const error = defaultSerializer.deserialize(
        new TextEncoder().encode((crash?.payload as { text?: string } | undefined)?.text ?? ""),
      );
      expect(error).toBeInstanceOf(CrashedError);
      expect((error as Error).message).toBe(
        "Task run 'killer-0' crashed: its message was delivered 3 times without an outcome (the worker died or timed out each time).",
      );
    },
  );

  it("returns the records it could not append as batch item failures", async () => {
    const flowRunId = randomUUID();
    const message = await body(flowRunId, [outcome(flowRunId, 1)]);
    // The run's key can be read (the message is genuine), its record cannot.
    const broken = {
      read: (key: string) =>
        key.startsWith("keys/") ? store.read(key) : Promise.reject(new Error("503 Slow Down")),
      create: () => Promise.reject(new Error("503")),
      replace: () => Promise.reject(new Error("503")),
    };
    const coordinator = createCoordinator({ store: broken });
    const response = await coordinator.handle({
      Records: [{ messageId: "x", body: message }],
    });

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: "x" }]);
  });

  it("appends within its invocation when record writes fail after the SDK's retries, one of them after S3 applied it", async () => {
    const flowRunId = randomUUID();
    const returned = { flowRunId, flowName: "f", state: "Completed" as const, tasks: 2, endedAt: 5 };
    // The first segment write is stored but its answer lost; the first summary write fails outright.
    let segmentWrites = 0;
    let summaryWrites = 0;
    const failing = {
      read: (key: string, etag?: string) => store.read(key, etag),
      async create(key: string, value: Uint8Array) {
        const created = await store.create(key, value);
        if (key.includes("/log/") && ++segmentWrites === 1)
          throw new Error("We encountered an internal error.");
        return created;
      },
      async replace(key: string, value: Uint8Array, etag: string) {
        if (++summaryWrites === 1) throw new Error("We encountered an internal error.");
        return store.replace(key, value, etag);
      },
    };
    const coordinator = createCoordinator({ store: failing });
    const invocation = { getRemainingTimeInMillis: () => 60_000 };

    const first = await coordinator.handle(
      { Records: [{ messageId: "a", body: await body(flowRunId, [outcome(flowRunId, 1)]) }] },
      invocation,
    );
    const second = await coordinator.handle(
      {
        Records: [
          { messageId: "b", body: await body(flowRunId, [outcome(flowRunId, 2)]) },
          { messageId: "c", body: await signer.returnedBody(returned) },
        ],
      },
      invocation,
    );

    expect([first.batchItemFailures, second.batchItemFailures]).toEqual([[], []]);
    // Each append tried again once: its repeated segment write refused by its condition, the segment found.
    expect([segmentWrites, summaryWrites]).toEqual([4, 2]);
    expect((await readSegments(store, flowRunId, 0)).next).toBe(2);
    expect(await recorded(flowRunId)).toEqual([outcome(flowRunId, 1), outcome(flowRunId, 2)]);
    expect(await summaryOf(flowRunId)).toMatchObject({
      nextSegment: 2,
      state: "Completed",
      counts: { completed: 2, failed: 0, crashed: 0, cancelled: 0 },
      returned,
    });
  });

  it("makes the summary final and exact on the redelivery of a batch whose summary write failed after its segment", async () => {
    const flowRunId = randomUUID();
    const returned = { flowRunId, flowName: "f", state: "Completed" as const, tasks: 2, endedAt: 5 };
    await createCoordinator({ store }).handle({
      Records: [
        { messageId: "a", body: await body(flowRunId, [outcome(flowRunId, 1)]) },
        { messageId: "b", body: await signer.returnedBody(returned) },
      ],
    });
    // The segment is written, the summary's PUT fails (the coordinator dies, or S3 answers 503 to the end).
    const summaryFails = {
      read: (key: string, etag?: string) => store.read(key, etag),
      create: (key: string, value: Uint8Array) => store.create(key, value),
      replace: () => Promise.reject(new Error("503 Slow Down")),
    };
    const last = { messageId: "c", body: await body(flowRunId, [outcome(flowRunId, 2)]) };
    const failed = await createCoordinator({ store: summaryFails }).handle({ Records: [last] });
    expect(failed.batchItemFailures).toEqual([{ itemIdentifier: "c" }]);
    expect((await readSegments(store, flowRunId, 0)).next).toBe(2);
    expect(await summaryOf(flowRunId)).not.toHaveProperty("state");

    const again = await createCoordinator({ store }).handle({ Records: [last] });

    expect(again.batchItemFailures).toEqual([]);
    expect(await recorded(flowRunId)).toEqual([outcome(flowRunId, 1), outcome(flowRunId, 2)]);
    expect(await summaryOf(flowRunId)).toMatchObject({
      nextSegment: 2,
      state: "Completed",
      counts: { completed: 2, failed: 0, crashed: 0, cancelled: 0 },
      returned,
    });
  });
});
