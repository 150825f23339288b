import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CancelledError, SquallError } from "squall";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { markRunCancelled, readRunKey } from "../../sdk/aws/wire/run-key.js";
import { createTaskWorker } from "../../sdk/aws/worker/task-worker.js";
import "../fixtures/worker-tasks.js";
import {
  decoded,
  fixtureModule,
  outcomesOf,
  sqsEvent,
  taskMessage,
  taskRecord,
  workerResources,
} from "../support/worker-harness.js";

const { module: MODULE, codeHash: CODE_HASH } = fixtureModule("worker-tasks");

let resources: Awaited<ReturnType<typeof workerResources>>;
let worker: ReturnType<typeof createTaskWorker>;
let markers: string;

beforeAll(async () => {
  resources = await workerResources(inject("emulatorEndpoint"), "skips");
  const { tasks, completions, store } = resources;
  worker = createTaskWorker({ tasks, completions, store });
  markers = mkdtempSync(join(tmpdir(), "squall-markers-"));
});
afterAll(() => {
  resources.close();
  rmSync(markers, { recursive: true, force: true });
});

/** A run of the task that leaves a file behind, and where it would leave it. */
function markerRun() {
  const path = join(markers, randomUUID());
  return { path, record: taskRecord(MODULE, CODE_HASH, "leavesMarkerInWorker", [path]) };
}

/** Cancels the flow run as its caller does: in its key object, which workers read for each batch. */
async function cancel(flowRunId: string): Promise<void> {
  const { store, signer } = resources;
  await markRunCancelled(store, flowRunId, await signer.keyOf(flowRunId));
  expect(await readRunKey((key) => store.get(key), flowRunId)).toMatchObject({ cancelled: true });
}

describe("runs the worker does not start", () => {
  it("runs the tasks of a flow run that was not cancelled (the marker task works)", async () => {
    const run = markerRun();

    await worker.handle(await sqsEvent(taskMessage([run.record])));

    const [outcome] = await outcomesOf(resources.completions);
    expect(outcome?.status).toBe("completed");
    expect(existsSync(run.path)).toBe(true);
  });

  it("reports the task runs of a cancelled flow run as cancelled without running them", async () => {
    const flowRunId = randomUUID();
    await cancel(flowRunId);
    const [first, second] = [markerRun(), markerRun()];

    const response = await worker.handle(
      await sqsEvent(taskMessage([first.record, second.record], flowRunId)),
    );

    expect(response.batchItemFailures).toEqual([]);
    const outcomes = await outcomesOf(resources.completions);
    expect(outcomes.map((o) => [o.taskRunId, o.status, o.attempt])).toEqual([
      [first.record.taskRunId, "cancelled", 1],
      [second.record.taskRunId, "cancelled", 1],
    ]);
    expect(outcomes.every((o) => o.flowRunId === flowRunId && o.startedAt === undefined)).toBe(true);
    const error = decoded(outcomes[0]) as Error;
    expect(error).toBeInstanceOf(CancelledError);
    expect(error.message).toBe(
      `Task run '${first.record.taskRunName}' was cancelled before it started: flow run 'witty-otter' was cancelled.`,
    );
    expect(existsSync(first.path) || existsSync(second.path)).toBe(false);
    expect(await resources.tasks.receive()).toEqual([]); // nothing re-queued either
  });

  it("skips only the cancelled flow run's tasks in a batch that mixes flow runs", async () => {
    const cancelledRun = randomUUID();
    await cancel(cancelledRun);
    const [skipped, ran] = [markerRun(), markerRun()];

    await worker.handle(
      await sqsEvent(taskMessage([skipped.record], cancelledRun), taskMessage([ran.record])),
    );

    const outcomes = await outcomesOf(resources.completions);
    const statusOf = (taskRunId: string) => outcomes.find((o) => o.taskRunId === taskRunId)?.status;
    expect(statusOf(skipped.record.taskRunId)).toBe("cancelled");
    expect(statusOf(ran.record.taskRunId)).toBe("completed");
    expect(existsSync(skipped.path)).toBe(false);
    expect(existsSync(ran.path)).toBe(true);
  });
});

describe("a retry delay SQS cannot hold", () => {
  it("fails the run, naming the 900-second limit, instead of re-queueing it", async () => {
    const record = taskRecord(MODULE, CODE_HASH, "retriesAnHourLater", []);

    const response = await worker.handle(await sqsEvent(taskMessage([record])));

    expect(response.batchItemFailures).toEqual([]);
    const [outcome, ...more] = await outcomesOf(resources.completions);
    expect(more).toEqual([]);
    expect(outcome?.status).toBe("failed");
    const error = decoded(outcome) as Error;
    expect(error).toBeInstanceOf(SquallError);
    expect(error.message).toBe(
      "The retry delay for retry 1 is 3600 seconds; SQS holds a retry back at most 900 seconds. Give the task shorter `retryDelaySeconds`. It failed with: down for an hour",
    );
    expect((error.cause as Error | undefined)?.message).toBe("down for an hour");
    expect(await resources.tasks.receive({ waitSeconds: 1 })).toEqual([]);
  });

  it("fails the last attempt with the task's own error: no retry is left to delay", async () => {
    const record = taskRecord(MODULE, CODE_HASH, "retriesAnHourLater", [], { attempt: 2 });

    await worker.handle(await sqsEvent(taskMessage([record])));

    const [outcome] = await outcomesOf(resources.completions);
    expect(outcome?.status).toBe("failed");
    expect((decoded(outcome) as Error).message).toBe("down for an hour");
  });
});
