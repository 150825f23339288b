import {
  ConcurrentTaskRunner,
  flow,
  observeRuns,
  type RunEvent,
  type TaskRunner,
  ThreadPoolTaskRunner,
} from "squall";
import { LambdaTaskRunner, type LocalEnvironment, startLocalEnvironment } from "squall/aws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cubeLoudly } from "../fixtures/print-tasks.js";
import { afterSlowImport } from "../fixtures/slow-import-tasks.js";

// Run events say which worker ran each task run, and when it ran there: what the dashboard's
// timeline draws by worker.
let local: LocalEnvironment;

beforeAll(async () => {
  local = await startLocalEnvironment({ workers: 2 });
});
afterAll(async () => {
  await local?.stop();
});

/** The final event of each task run of one flow run on `taskRunner`, and the flow's own span. */
async function finalTaskEvents(taskRunner: TaskRunner) {
  const events: RunEvent[] = [];
  const stop = observeRuns((event) => events.push(event));
  const cubing = flow({ taskRunner }, async function cubing() {
    return cubeLoudly.map([1, 2, 3, 4, 5, 6]).result();
  });
  const before = Date.now();
  const state = await cubing.run();
  const after = Date.now();
  stop();
  expect(state.type).toBe("COMPLETED");
  const ofFlow = events.filter((e) => e.kind === "task" && e.flowRunId === state.flowRun.id);
  const finals = ofFlow.filter((e) => e.state === "Completed");
  expect(finals).toHaveLength(6);
  return { ofFlow, finals, before, after };
}

describe("the worker of each task run", () => {
  it("is `in process` from Running on for runs in the flow's own process", async () => {
    const { ofFlow, finals } = await finalTaskEvents(new ConcurrentTaskRunner());
    for (const event of ofFlow) {
      expect(event.worker).toBe(event.state === "Pending" ? undefined : "in process");
    }
    expect(finals.every((e) => e.startedAt === undefined && e.endedAt === undefined)).toBe(true);
  });

  it("is the thread, with the times it ran there, for runs in worker threads", async () => {
    const { finals, before, after } = await finalTaskEvents(new ThreadPoolTaskRunner({ maxWorkers: 2 }));
    for (const event of finals) {
      expect(event.worker).toMatch(/^thread \d+$/);
      expect(event.startedAt).toBeGreaterThanOrEqual(before);
      expect(event.endedAt).toBeGreaterThanOrEqual(event.startedAt as number);
      expect(event.endedAt).toBeLessThanOrEqual(Math.min(event.time, after));
    }
  });

  it("is the Lambda execution environment, named by its log stream, for runs on Lambda", async () => {
    const { ofFlow, finals, before, after } = await finalTaskEvents(new LambdaTaskRunner(local.address));
    for (const event of finals) {
      expect(event.worker).toMatch(/^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32}$/);
      expect(event.startedAt).toBeGreaterThanOrEqual(before);
      expect(event.endedAt).toBeGreaterThanOrEqual(event.startedAt as number);
      expect(event.endedAt).toBeLessThanOrEqual(after);
    }
    // Where a run goes is known once its outcome is back, not while it is queued.
    expect(ofFlow.filter((e) => e.state !== "Completed").every((e) => e.worker === undefined)).toBe(true);
  });

  it.each([
    ["threads", () => new ThreadPoolTaskRunner({ maxWorkers: 1 })],
    ["Lambda", () => new LambdaTaskRunner(local.address)],
  ])(
    "on %s, starts when the function is called, not when the worker began loading its module",
    async (_, runner) => {
      const events: RunEvent[] = [];
      const stop = observeRuns((event) => events.push(event));
      const slow = flow({ taskRunner: runner() }, async function slow() {
        return afterSlowImport.submit(1).result();
      });
      expect(await slow()).toBe(2);
      stop();
      const final = events.find((e) => e.definition === "afterSlowImport" && e.state === "Completed");
      // The module spins 600 ms as it loads; the function returns at once.
      expect((final?.endedAt as number) - (final?.startedAt as number)).toBeLessThan(300);
    },
  );
});
