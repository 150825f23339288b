import { defaultSerializer } from "squall";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { SqsQueue } from "../../sdk/aws/queue.js";
import type { S3ResultStore } from "../../sdk/aws/s3-store.js";
import type { TaskMessage } from "../../sdk/aws/wire/messages.js";
import { KEYS_PREFIX } from "../../sdk/aws/wire/run-key.js";
import { openEnvelope, signedWith } from "../../sdk/aws/wire/seal.js";
import { createTaskWorker } from "../../sdk/aws/worker/task-worker.js";
import { StoredValue } from "../../sdk/serialization/stored.js";
import "../fixtures/pipe-tasks.js";
import {
  decoded,
  fixtureModule,
  outcomesOf,
  sqsEvent,
  taskMessage,
  taskRecord,
  workerResources,
} from "../support/worker-harness.js";

// A bucket that fails (after the SDK's retries) is not the task's fault: the run is sent back
// to be tried again rather than failed, up to the worker's maxDeliveries.
const { module: MODULE, codeHash: CODE_HASH } = fixtureModule("pipe-tasks");

let resources: Awaited<ReturnType<typeof workerResources>>;

beforeAll(async () => {
  resources = await workerResources(inject("emulatorEndpoint"), "storage");
});
afterAll(() => resources.close());

/**
 * The store, failing the calls `failing` names as an unreachable bucket would, for a run's
 * arguments and results: the run keys, which the worker reads before it believes a message,
 * still come (a message whose key cannot be read comes back whole, untried).
 */
function failing(store: S3ResultStore, calls: readonly ("get" | "put")[]): S3ResultStore {
  return new Proxy(store, {
    get(target, property) {
      if (calls.includes(property as "get" | "put")) {
        return (key: string, ...rest: unknown[]) =>
          key.startsWith(KEYS_PREFIX)
            ? (Reflect.get(target, property) as (...args: unknown[]) => unknown).call(target, key, ...rest)
            : Promise.reject(new Error("503 Service Unavailable"));
      }
      const value = Reflect.get(target, property); // getters read the store's private fields
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** The task messages sent back to the queue, each signed for it with its flow run's key. */
async function sentBack(queue: SqsQueue): Promise<TaskMessage[]> {
  const received = await queue.receive({ max: 10 });
  await queue.delete(received.map((m) => m.receiptHandle));
  const messages: TaskMessage[] = [];
  for (const { body } of received) {
    const envelope = openEnvelope(body);
    if (!envelope) throw new Error(`Sent back unsigned: ${body.slice(0, 80)}`);
    const { mac: _, ...message } = JSON.parse(body) as TaskMessage & { mac: string };
    expect(signedWith(await resources.signer.keyOf(message.flowRunId), "tasks", envelope)).toBe(true);
    messages.push(message);
  }
  return messages;
}

describe("a worker whose bucket fails", () => {
  it("sends back a run whose stored arguments cannot be read, alone, and still reports the others", async () => {
    const { tasks, completions, store } = resources;
    const worker = createTaskWorker({
      tasks,
      completions,
      store: failing(store, ["get"]),
      stallDelaySeconds: 0,
    });
    await store.put("runs/x/payloads/args", new TextEncoder().encode("J[[3]]"));
    const stored = taskRecord(MODULE, CODE_HASH, "squareInPipe", [], {
      args: { key: "runs/x/payloads/args", size: 6 },
    });
    const inline = taskRecord(MODULE, CODE_HASH, "squareInPipe", [4]);

    // Not a batch item failure: that would count as the worker dying, and run the others again.
    const response = await worker.handle(await sqsEvent(taskMessage([stored, inline], "x")));

    expect(response.batchItemFailures).toEqual([]);
    const outcomes = await outcomesOf(completions);
    expect(outcomes.map((o) => [o.taskRunId, o.status])).toEqual([[inline.taskRunId, "completed"]]);
    const [back, ...more] = await sentBack(tasks);
    expect(more).toEqual([]);
    expect(back?.tasks).toEqual([stored]);
    expect(back?.stalls).toBe(1);
    expect(back?.suspect).toBeUndefined();
  });

  it("sends back a run whose upstream result, passed by reference, cannot be loaded", async () => {
    const { tasks, completions, store } = resources;
    const worker = createTaskWorker({
      tasks,
      completions,
      store: failing(store, ["get"]),
      stallDelaySeconds: 0,
    });
    // The worker's own bucket, failing reads as an unreachable bucket does.
    const bytes = defaultSerializer.serialize([new StoredValue("runs/x/results/up", store.locator, 4)]);
    const record = taskRecord(MODULE, CODE_HASH, "squareInPipe", [], {
      args: { text: new TextDecoder().decode(bytes) },
    });

    const response = await worker.handle(await sqsEvent(taskMessage([record], "x")));

    expect(response.batchItemFailures).toEqual([]);
    expect(await outcomesOf(completions)).toEqual([]);
    expect((await sentBack(tasks)).map((m) => [m.tasks, m.stalls])).toEqual([[[record], 1]]);
  });

  it("sends back a run whose large result cannot be stored, not failed", async () => {
    const { tasks, completions, store } = resources;
    const worker = createTaskWorker({
      tasks,
      completions,
      store: failing(store, ["put"]),
      inlineBytes: 1,
      stallDelaySeconds: 0,
    });
    const record = taskRecord(MODULE, CODE_HASH, "squareInPipe", [5]);

    const response = await worker.handle(await sqsEvent(taskMessage([record])));

    expect(response.batchItemFailures).toEqual([]);
    expect(await outcomesOf(completions)).toEqual([]);
    expect((await sentBack(tasks)).map((m) => [m.tasks, m.stalls])).toEqual([[[record], 1]]);
  });

  it("ends a run Crashed, saying why, once the bucket has failed it maxDeliveries times", async () => {
    const { tasks, completions, store } = resources;
    const worker = createTaskWorker({ tasks, completions, store: failing(store, ["put"]), inlineBytes: 1 });
    const record = taskRecord(MODULE, CODE_HASH, "squareInPipe", [6]);

    await worker.handle(await sqsEvent({ ...taskMessage([record]), stalls: 2 }));

    expect(await sentBack(tasks)).toEqual([]);
    const [outcome, ...others] = await outcomesOf(completions);
    expect(others).toEqual([]);
    expect(outcome).toMatchObject({ taskRunId: record.taskRunId, status: "crashed" });
    expect((decoded(outcome) as Error).message).toBe(
      `Task run '${record.taskRunName}' crashed: the result bucket failed it 3 times (The bucket could not be reached: 503 Service Unavailable). Check that the bucket exists and the worker's role may read and write it.`,
    );
  });
});
