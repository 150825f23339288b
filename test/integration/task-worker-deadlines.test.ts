import { TaskTimeoutError } from "squall";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTaskWorker } from "../../sdk/aws/worker/task-worker.js";
import "../fixtures/worker-limit-tasks.js";
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
  resources = await workerResources(inject("emulatorEndpoint"), "deadlines");
  const { tasks, completions, store } = resources;
  worker = createTaskWorker({ tasks, completions, store });
});
afterAll(() => resources.close());

/** An invocation context as Lambda gives it, `ms` before the invocation's end. */
const invocation = (ms: number) => {
  const end = Date.now() + ms;
  return { getRemainingTimeInMillis: () => end - Date.now() };
};

describe("a worker holds runs to their deadlines as in process", () => {
  it("fails a synchronous run that returns past its timeout with a TaskTimeoutError", async () => {
    const looping = taskRecord(MODULE, CODE_HASH, "busyLoops", [400], { timeoutMs: 200 });

    const response = await worker.handle(await sqsEvent(taskMessage([looping])));

    expect(response.batchItemFailures).toEqual([]);
    const outcomes = await outcomesOf(resources.completions);
    expect(outcomes.map((o) => o.status)).toEqual(["failed"]);
    const error = decoded(outcomes[0]) as Error;
    expect(error).toBeInstanceOf(TaskTimeoutError);
    expect(error.message).toBe(`Task run '${looping.taskRunName}' exceeded its timeout of 0.2 seconds.`);
  });

  it("cuts a run with no timeout at the worker's remaining time, and reports its siblings", async () => {
    const hanging = taskRecord(MODULE, CODE_HASH, "hangsForever", []);
    const quick = [1, 2, 3].map((i) => taskRecord(MODULE, CODE_HASH, "returnsAtOnce", [`quick ${i}`]));

    const response = await worker.handle(await sqsEvent(taskMessage([hanging, ...quick])), invocation(1_500));

    expect(response.batchItemFailures).toEqual([]);
    const outcomes = await outcomesOf(resources.completions);
    const statusOf = new Map(outcomes.map((o) => [o.taskRunId, o.status]));
    expect(outcomes).toHaveLength(4);
    expect(statusOf.get(hanging.taskRunId)).toBe("failed");
    for (const record of quick) expect(statusOf.get(record.taskRunId)).toBe("completed");
    const error = decoded(outcomes.find((o) => o.taskRunId === hanging.taskRunId)) as Error;
    expect(error).toBeInstanceOf(TaskTimeoutError);
    expect(error.message).toBe(
      `Task run '${hanging.taskRunName}' ran past the worker function's remaining time (1.5 seconds when its batch began, less 0.3 to report its outcome), so the worker stopped waiting for it. Give the task a \`timeoutSeconds\` it can finish in, or raise the worker function's timeout.`,
    );
  });

  it("leaves a run it had no time to start to its message's next delivery, not failed", async () => {
    const { tasks, completions, store } = resources;
    const oneAtATime = createTaskWorker({ tasks, completions, store, concurrency: 1 });
    const hanging = taskRecord(MODULE, CODE_HASH, "hangsForever", []);
    const waiting = taskRecord(MODULE, CODE_HASH, "returnsAtOnce", ["never started"]);

    const response = await oneAtATime.handle(
      await sqsEvent(taskMessage([hanging, waiting])),
      invocation(1_000),
    );

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: "m0" }]);
    const outcomes = await outcomesOf(completions);
    expect(outcomes.map((o) => [o.taskRunId, o.status])).toEqual([[hanging.taskRunId, "failed"]]);
  });
});
