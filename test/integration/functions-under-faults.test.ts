// The worker and coordinator functions under a steady 30% of failed S3 and SQS requests, end to
// end on the local environment: each flow run finishes with every result, and no message has to
// wait out a visibility timeout to get there. The queues' visibility timeout here (an hour) is far
// longer than the tests' own, so a batch or item that a function failed (its messages would come
// back only after that timeout) leaves its flow run unfinished, and the test fails.
import { configureLogging, flow, resetLogging, type TaskFuture } from "squall";
import { LambdaTaskRunner, type LocalEnvironment, S3ResultStore, startLocalEnvironment } from "squall/aws";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { cube } from "../fixtures/lambda-runner-tasks.js";
import { finalSummary, recordedByRun } from "../support/records.js";

const HOUR = 3_600;

// Engine log lines are not under test; keep them off stderr.
beforeEach(() => configureLogging({ write: () => {} }));
afterEach(() => resetLogging());

let local: LocalEnvironment;
let bucket: S3ResultStore;
beforeAll(async () => {
  local = await startLocalEnvironment({ workers: 2, visibilitySeconds: HOUR });
  const { bucket: name, endpoint, region } = local.address;
  bucket = new S3ResultStore({ bucket: name, endpoint, region });
}, 30_000);
afterEach(() => local.injectFaults(undefined));
afterAll(async () => {
  await local?.stop();
});

/** Lines the functions wrote to stderr (their threads' output reaches this process's stderr). */
function functionLines(): { lines: string[]; stop(): void } {
  const lines: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  const spy = vi.spyOn(process.stderr, "write").mockImplementation((chunk, ...rest) => {
    lines.push(String(chunk));
    return write(chunk, ...(rest as []));
  });
  return { lines, stop: () => spy.mockRestore() };
}

/**
 * Cubes 0..n-1 at 30% faults on every S3 and SQS request (the caller's, the functions' and the
 * event source mappings') and checks the run as a user sees it: each future its value, the record
 * one outcome per task run, the summary final and Completed; and that no function reported a
 * message it could not handle (each such message would come back only after an hour).
 */
async function cubeUnderFaults(n: number, tasksPerMessage: number) {
  const xs = Array.from({ length: n }, (_, i) => i);
  let futures: TaskFuture<number>[] = [];
  const cubes = flow(
    { taskRunner: new LambdaTaskRunner({ ...local.address, tasksPerMessage }) },
    async function cubeUnderFaults(values: number[]) {
      futures = cube.map(values);
      return futures;
    },
  );
  const output = functionLines();
  const before = local.emulator.faultsInjected;
  local.injectFaults({ rate: 0.3 });
  let state: Awaited<ReturnType<typeof cubes.run>>;
  try {
    state = await cubes.run(xs);
  } finally {
    local.injectFaults(undefined);
    output.stop();
  }

  expect(state.type === "COMPLETED" ? state.result : state.error).toEqual(xs.map((x) => x ** 3));
  expect(futures.map((future) => future.state.name)).toEqual(Array(n).fill("Completed"));
  const summary = await finalSummary(bucket, state.flowRun.id);
  expect(summary?.state).toBe("Completed");
  expect(summary?.counts).toEqual({ completed: n, failed: 0, crashed: 0, cancelled: 0 });
  const outcomes = await recordedByRun(bucket, state.flowRun.id);
  expect(outcomes.size).toBe(n);
  for (const future of futures) {
    expect(outcomes.get(future.taskRunId)?.map((outcome) => outcome.status)).toEqual(["completed"]);
  }
  expect(output.lines.filter((line) => /squall (worker|coordinator): could not/.test(line))).toEqual([]);
  // A steady 30% of requests failed, at their first attempt or later ones.
  expect(local.emulator.faultsInjected - before).toBeGreaterThan(50);
}

describe("the functions under 30% faults", () => {
  it("finish a flow run of 5,000 task runs, one a message, with every result and no message held back", {
    timeout: 90_000,
  }, async () => {
    await cubeUnderFaults(5_000, 1);
  });

  it("finish a flow run of 20,000 task runs, 50 a message, with every result and no message held back", {
    timeout: 90_000,
  }, async () => {
    await cubeUnderFaults(20_000, 50);
  });
});
