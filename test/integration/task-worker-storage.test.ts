import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { S3ResultStore } from "../../sdk/aws/s3-store.js";
import { createTaskWorker } from "../../sdk/aws/worker/task-worker.js";
import { moduleHash } from "../../sdk/registry.js";
import "../fixtures/pipe-tasks.js";
import { outcomesOf, sqsEvent, taskMessage, taskRecord, workerResources } from "../support/worker-harness.js";

// A bucket that fails (after the SDK's retries) is not the task's fault: the message is
// delivered again rather than its run failed.
const MODULE = pathToFileURL(new URL("../fixtures/pipe-tasks.ts", import.meta.url).pathname).href;
const CODE_HASH = moduleHash(MODULE) as string;

let resources: Awaited<ReturnType<typeof workerResources>>;

beforeAll(async () => {
  resources = await workerResources(inject("emulatorEndpoint"), "storage");
});
afterAll(() => resources.close());

/** The store, failing the calls `failing` names as an unreachable bucket would. */
function failing(store: S3ResultStore, calls: readonly ("get" | "put")[]): S3ResultStore {
  return new Proxy(store, {
    get(target, property, receiver) {
      if (calls.includes(property as "get" | "put")) {
        return () => Promise.reject(new Error("503 Service Unavailable"));
      }
      const value = Reflect.get(target, property, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

describe("a worker whose bucket fails", () => {
  it("has a run whose stored arguments cannot be read delivered again, and still reports the others", async () => {
    const { tasks, completions, store } = resources;
    const worker = createTaskWorker({ tasks, completions, store: failing(store, ["get"]) });
    await store.put("runs/x/payloads/args", new TextEncoder().encode("J[[3]]"));
    const stored = taskRecord(MODULE, CODE_HASH, "squareInPipe", [], {
      args: { key: "runs/x/payloads/args", size: 6 },
    });
    const inline = taskRecord(MODULE, CODE_HASH, "squareInPipe", [4]);

    const response = await worker.handle(sqsEvent(taskMessage([stored]), taskMessage([inline])));

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: "m0" }]);
    const outcomes = await outcomesOf(completions);
    expect(outcomes.map((o) => [o.taskRunId, o.status])).toEqual([[inline.taskRunId, "completed"]]);
  });

  it("has a run whose large result cannot be stored delivered again, not failed", async () => {
    const { tasks, completions, store } = resources;
    const worker = createTaskWorker({ tasks, completions, store: failing(store, ["put"]), inlineBytes: 1 });
    const record = taskRecord(MODULE, CODE_HASH, "squareInPipe", [5]);

    const response = await worker.handle(sqsEvent(taskMessage([record])));

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: "m0" }]);
    expect(await outcomesOf(completions)).toEqual([]);
  });
});
