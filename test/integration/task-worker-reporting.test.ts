import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Outcome } from "../../sdk/aws/wire/messages.js";
import { createTaskWorker } from "../../sdk/aws/worker/task-worker.js";
import { openGate } from "../fixtures/worker-limit-tasks.js";
import {
  decoded,
  fixtureModule,
  outcomesOf,
  sqsEvent,
  taskMessage,
  taskRecord,
  workerResources,
} from "../support/worker-harness.js";

const { module: MODULE, codeHash: CODE_HASH } = fixtureModule("worker-limit-tasks");

let resources: Awaited<ReturnType<typeof workerResources>>;
let worker: ReturnType<typeof createTaskWorker>;

beforeAll(async () => {
  resources = await workerResources(inject("emulatorEndpoint"), "reporting");
  const { tasks, completions, store } = resources;
  worker = createTaskWorker({ tasks, completions, store });
});
afterAll(() => resources.close());

/** The first outcomes to reach the completion queue, waiting for them up to a few long polls. */
async function firstOutcomes(): Promise<Outcome[]> {
  for (let poll = 0; poll < 3; poll++) {
    const received = await resources.completions.receive({ max: 10, waitSeconds: 5 });
    if (received.length === 0) continue;
    await resources.completions.delete(received.map((m) => m.receiptHandle));
    return received.flatMap((m) => (JSON.parse(m.body) as { outcomes: Outcome[] }).outcomes);
  }
  return [];
}

describe("a worker reports each run as it finishes", () => {
  it("sends a fast run's outcome while a slow run of the same message is still running", async () => {
    const fast = taskRecord(MODULE, CODE_HASH, "returnsAtOnce", ["fast"]);
    const slow = taskRecord(MODULE, CODE_HASH, "waitsForGate", ["fast-and-slow"]);

    const handled = worker.handle(await sqsEvent(taskMessage([fast, slow])));

    // The slow run is held on its gate until the fast run's outcome is on the queue.
    const early = await firstOutcomes();
    openGate("fast-and-slow");
    expect(early.map((o) => [o.taskRunId, o.status])).toEqual([[fast.taskRunId, "completed"]]);
    expect(decoded(early[0])).toBe("fast");
    expect((await handled).batchItemFailures).toEqual([]);
    const late = await outcomesOf(resources.completions);
    expect(late.map((o) => [o.taskRunId, o.status])).toEqual([[slow.taskRunId, "completed"]]);
    expect(decoded(late[0])).toBe("opened fast-and-slow");
  });

  it("carries the outcomes of runs that finish together in one message", async () => {
    const records = Array.from({ length: 50 }, (_, i) =>
      taskRecord(MODULE, CODE_HASH, "returnsAtOnce", [`run ${i}`]),
    );

    await worker.handle(await sqsEvent(taskMessage(records)));

    const received = await resources.completions.receive({ max: 10, waitSeconds: 0 });
    const outcomes = received.flatMap((m) => (JSON.parse(m.body) as { outcomes: Outcome[] }).outcomes);
    await resources.completions.delete(received.map((m) => m.receiptHandle));
    expect(outcomes.map((o) => o.taskRunId).sort()).toEqual(records.map((r) => r.taskRunId).sort());
    expect(received.length).toBeLessThan(records.length / 10);
  });

  it("has a message delivered again when a run of it could not be reported, after its others were", async () => {
    const { tasks, completions, store } = resources;
    // The completion queue takes the first send and fails every one after it.
    let sends = 0;
    const failingAfterOne = Object.create(completions) as typeof completions;
    failingAfterOne.send = (bodies, options) =>
      ++sends === 1 ? completions.send(bodies, options) : Promise.reject(new Error("SQS is down"));
    const flaky = createTaskWorker({ tasks, completions: failingAfterOne, store });
    const fast = taskRecord(MODULE, CODE_HASH, "returnsAtOnce", ["reported"]);
    const slow = taskRecord(MODULE, CODE_HASH, "waitsForGate", ["unreported"]);
    const other = taskRecord(MODULE, CODE_HASH, "returnsAtOnce", ["other"]);

    const event = await sqsEvent(taskMessage([fast, slow]), taskMessage([other]));
    const handled = flaky.handle(event);
    const early = await firstOutcomes();
    openGate("unreported");
    const response = await handled;

    // The first send carried both quick runs; the slow run's failed, so its message comes back.
    expect(early.map((o) => o.taskRunId).sort()).toEqual([fast.taskRunId, other.taskRunId].sort());
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: "m0" }]);
    expect(await outcomesOf(completions)).toEqual([]);
  });
});
