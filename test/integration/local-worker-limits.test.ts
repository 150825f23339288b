import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import {
  configureLogging,
  flow,
  InvalidArgumentError,
  resetLogging,
  type TaskFuture,
  TaskTimeoutError,
} from "squall";
import { LambdaTaskRunner, type LocalEnvironment, startLocalEnvironment } from "squall/aws";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  busyLoops,
  countsRuns,
  hangsForever,
  loopsForever,
  printsALot,
  returnsAtOnce,
} from "../fixtures/worker-limit-tasks.js";

beforeEach(() => configureLogging({ write: () => {} }));
afterEach(() => resetLogging());

let local: LocalEnvironment;
let runner: LambdaTaskRunner;
let counters: string;

beforeAll(async () => {
  // One worker, so that a run that never ends would hold up every run after it.
  local = await startLocalEnvironment({
    workers: 1,
    workerTimeoutSeconds: 2,
    visibilitySeconds: 2,
    maxDeaths: 1,
  });
  runner = new LambdaTaskRunner(local.address);
  counters = mkdtempSync(join(tmpdir(), "squall-counters-"));
}, 30_000);
afterAll(async () => {
  await local?.stop();
  rmSync(counters, { recursive: true, force: true });
});

const states = (futures: readonly TaskFuture<unknown>[]) => futures.map((f) => f.state.name);

describe("the local environment's worker functions at their limits, as Lambda's", () => {
  it("ends a synchronous run that returns past its timeout TimedOut, as in process", async () => {
    let looping: TaskFuture<string> | undefined;
    const overran = flow({ taskRunner: runner }, async function overranInTheFleet() {
      looping = busyLoops.submit(600);
      return looping.result({ raiseOnFailure: false });
    });

    const error = await overran();

    expect(looping?.state.name).toBe("TimedOut");
    expect(error).toBeInstanceOf(TaskTimeoutError);
    expect((error as Error).message).toBe("Task run 'busyLoops-0' exceeded its timeout of 0.2 seconds.");
  });

  it("ends a run that never settles TimedOut at the worker's timeout, and runs the next ones", async () => {
    let hung: TaskFuture<unknown> | undefined;
    const siblings: TaskFuture<string>[] = [];
    const later: TaskFuture<string>[] = [];
    const wedgeless = flow({ taskRunner: runner }, async function wedgeless() {
      hung = hangsForever.submit();
      for (const i of [1, 2, 3]) siblings.push(returnsAtOnce.submit(`sibling ${i}`));
      const error = await hung.result({ raiseOnFailure: false });
      for (const i of [1, 2, 3]) later.push(returnsAtOnce.submit(`later ${i}`));
      await Promise.all([...siblings, ...later].map((f) => f.result()));
      return error;
    });

    const error = await wedgeless();

    expect(hung?.state.name).toBe("TimedOut");
    expect(error).toBeInstanceOf(TaskTimeoutError);
    expect((error as Error).message).toContain("ran past the worker function's remaining time");
    expect(states(siblings)).toEqual(["Completed", "Completed", "Completed"]);
    expect(states(later)).toEqual(["Completed", "Completed", "Completed"]);
  });

  it("ends an invocation still running at the function's timeout, its run Crashed once it keeps dying", async () => {
    let looping: TaskFuture<unknown> | undefined;
    let after: TaskFuture<string> | undefined;
    const cut = flow({ taskRunner: runner }, async function cutAtTheTimeout() {
      looping = loopsForever.submit();
      const error = await looping.result({ raiseOnFailure: false });
      after = returnsAtOnce.submit("after");
      return { error, after: await after.result() };
    });

    const { error, after: value } = await cut();

    expect(looping?.state.name).toBe("Crashed");
    expect((error as Error).message).toContain("died or timed out without an outcome");
    expect(value).toBe("after");
  }, 60_000);

  it("completes a run that prints 300 KiB, its siblings run once each", async () => {
    const paths = [1, 2, 3].map((i) => join(counters, `sibling-${i}`));
    const loud = flow({ taskRunner: runner }, async function printsInTheFleet() {
      const printing = printsALot.submit(300);
      const siblings = paths.map((path) => countsRuns.submit(path));
      return {
        printed: await printing.result(),
        counted: await Promise.all(siblings.map((f) => f.result())),
      };
    });

    expect(await loud()).toEqual({ printed: "printed", counted: ["counted", "counted", "counted"] });
    for (const path of paths) expect(readFileSync(path, "utf8")).toBe("ran\n");
  });
});

describe("the local environment's task queue visibility timeout, as the stack's", () => {
  it("is six times the worker's timeout unless given, as the stack sets it", async () => {
    const sized = await startLocalEnvironment({ workers: 1, workerTimeoutSeconds: 3 });
    const sqs = sized.emulator.sqsClient();
    try {
      const { Attributes } = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: sized.address.taskQueueUrl,
          AttributeNames: ["VisibilityTimeout"],
        }),
      );
      expect(Attributes?.VisibilityTimeout).toBe("18");
    } finally {
      sqs.destroy();
      await sized.stop();
    }
  });

  it("refuses one shorter than the worker's timeout, saying what to change", async () => {
    const started = startLocalEnvironment({ workers: 1, workerTimeoutSeconds: 60, visibilitySeconds: 30 });

    await expect(started).rejects.toThrow(InvalidArgumentError);
    await expect(started).rejects.toThrow(
      "Expected `visibilitySeconds` to be at least `workerTimeoutSeconds` (60), got `30`: a task message would be delivered again while the invocation running it may still run, and Lambda refuses an event source mapping whose queue hides messages for less than its function's timeout. Raise `visibilitySeconds` (the deployed stack uses six times the worker's timeout: 360), lower `workerTimeoutSeconds`, or leave `visibilitySeconds` out.",
    );
  });
});
