// Sending task runs under faults, end to end: real flows on LambdaTaskRunner against the local
// environment. Whatever fails (500/503s, throttling, answers lost after the request took effect, a
// task queue that refuses every send), each task run ends with exactly one result, the run's record
// holds exactly one final outcome for each, and its summary becomes final and agrees with the
// caller's futures.
import { configureLogging, flow, resetLogging, type TaskFuture } from "squall";
import { LambdaTaskRunner, type LocalEnvironment, S3ResultStore, startLocalEnvironment } from "squall/aws";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { RunSummary } from "../../sdk/aws/record/run-log.js";
import { cube } from "../fixtures/lambda-runner-tasks.js";
import { finalSummary, recordedByRun } from "../support/records.js";

// Engine log lines (each crashed run logs its error) are not under test; keep them off stderr.
beforeEach(() => configureLogging({ write: () => {} }));
afterEach(() => resetLogging());

let local: LocalEnvironment;
let bucket: S3ResultStore;
beforeAll(async () => {
  local = await startLocalEnvironment({ workers: 2 });
  const { bucket: name, endpoint, region } = local.address;
  bucket = new S3ResultStore({ bucket: name, endpoint, region });
}, 30_000);
afterEach(() => local.injectFaults(undefined));
afterAll(async () => {
  await local?.stop();
});

/** Futures' states counted as the summary counts outcomes. */
function countsOf(futures: readonly TaskFuture<unknown>[]): RunSummary["counts"] {
  const counts = { completed: 0, failed: 0, crashed: 0, cancelled: 0 };
  for (const future of futures) {
    const name = future.state.name.toLowerCase();
    if (name in counts) counts[name as keyof typeof counts] += 1;
  }
  return counts;
}

/**
 * Cubes 0..n-1, one task run a message (the most sends), and checks what every run must hold
 * whatever failed: each future one result, the right one; the record one final outcome each; the
 * summary final, Completed, with the caller's counts.
 */
async function cubeEach(n: number, options: { tasksPerMessage?: number } = {}) {
  const xs = Array.from({ length: n }, (_, i) => i);
  let futures: TaskFuture<number>[] = [];
  const cubes = flow(
    { taskRunner: new LambdaTaskRunner({ ...local.address, tasksPerMessage: options.tasksPerMessage ?? 1 }) },
    async function cubeEach(values: number[]) {
      futures = cube.map(values);
      return futures;
    },
  );

  const state = await cubes.run(xs);

  expect(state.type === "COMPLETED" ? state.result : state.error).toEqual(xs.map((x) => x ** 3));
  expect(futures.map((future) => future.state.name)).toEqual(Array(n).fill("Completed"));
  const outcomes = await recordedByRun(bucket, state.flowRun.id, { finalOnly: true });
  expect(outcomes.size).toBe(n);
  for (const future of futures) {
    expect(outcomes.get(future.taskRunId)?.map((outcome) => outcome.status)).toEqual(["completed"]);
  }
  const summary = await finalSummary(bucket, state.flowRun.id);
  expect(summary?.state).toBe("Completed");
  expect(summary?.counts).toEqual(countsOf(futures));
  expect(summary?.counts).toEqual({ completed: n, failed: 0, crashed: 0, cancelled: 0 });
}

// One task run a message gives the most sends: 5,000 tasks are 500 SendMessageBatch calls from the
// caller (the size at which one failed call used to crash every run) and as many from the workers.
// Faults on every request (receives, deletes, record writes) slow every call by its retries, so those
// runs use fewer tasks; 30% faults everywhere is functions-under-faults.test.ts's, and
// bench/lambda-faults.ts measures it.
const SENDS = ["SendMessageBatch", "SendMessage"];

describe("LambdaTaskRunner sends under faults", () => {
  it("gives every run of 5,000 exactly one result when half of all sends fail with 500 or 503", {
    timeout: 90_000,
  }, async () => {
    const before = local.emulator.faultsInjected;
    local.injectFaults({ rate: 0.5, statuses: [500, 503], actions: SENDS });

    await cubeEach(5_000);

    // Half of the caller's 500 calls at least, each failed at its first try.
    expect(local.emulator.faultsInjected - before).toBeGreaterThan(250);
  });

  it("gives every run of 1,000 exactly one result when a tenth of all S3 and SQS requests fail", {
    timeout: 90_000,
  }, async () => {
    const before = local.emulator.faultsInjected;
    local.injectFaults({ rate: 0.1 });

    await cubeEach(1_000);

    expect(local.emulator.faultsInjected - before).toBeGreaterThan(50);
  });

  it("gives every run of 2,000 exactly one result when a fifth of all sends are throttled", {
    timeout: 90_000,
  }, async () => {
    const before = local.emulator.faultsInjected;
    local.injectFaults({ throttle: 0.2, actions: SENDS });

    await cubeEach(2_000);

    expect(local.emulator.faultsInjected - before).toBeGreaterThan(40);
  });

  it("gives every run of 5,000 exactly one result when the answers to a fifth of sends and writes are lost after they took effect", {
    timeout: 90_000,
  }, async () => {
    const before = local.emulator.faultsInjected;
    local.injectFaults({ loseResponses: 0.2, actions: [...SENDS, "S3:PUT"] });

    await cubeEach(5_000);

    expect(local.emulator.faultsInjected - before).toBeGreaterThan(200);
  });

  it("records Crashed each run whose message the task queue refused, and the summary agrees with the futures", async () => {
    let futures: TaskFuture<number>[] = [];
    const runner = new LambdaTaskRunner({
      ...local.address,
      taskQueueUrl: `${local.address.taskQueueUrl}-missing`,
      tasksPerMessage: 2,
    });
    const unsendable = flow({ taskRunner: runner }, async function unsendable() {
      futures = cube.map([1, 2, 3, 4, 5]);
      return futures;
    });

    const state = await unsendable.run();

    expect(state.type).toBe("FAILED");
    expect(futures.map((future) => future.state.name)).toEqual(Array(5).fill("Crashed"));
    for (const future of futures) {
      const error = await future.result().catch((thrown: Error) => thrown);
      expect((error as Error).message).toMatch(
        /^Task run 'cube-\d+' crashed: its message could not be sent to the task queue \(.+\)\. Check that the caller may send to the task queue/,
      );
    }
    const outcomes = await recordedByRun(bucket, state.flowRun.id, { finalOnly: true });
    for (const future of futures) {
      expect(outcomes.get(future.taskRunId)?.map((outcome) => outcome.status)).toEqual(["crashed"]);
    }
    const summary = await finalSummary(bucket, state.flowRun.id);
    expect(summary?.state).toBe("Failed");
    expect(summary?.counts).toEqual({ completed: 0, failed: 0, crashed: 5, cancelled: 0 });
    expect(summary?.counts).toEqual(countsOf(futures));
  });
});
