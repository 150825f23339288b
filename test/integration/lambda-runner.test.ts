import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CancelledError,
  configureLogging,
  type FlowRunState,
  flow,
  getRunContext,
  InvalidArgumentError,
  resetLogging,
  type TaskFuture,
  type TaskRunInfo,
  TaskRunsFailedError,
  TaskTimeoutError,
} from "squall";
import { LambdaTaskRunner, type LocalEnvironment, S3ResultStore, startLocalEnvironment } from "squall/aws";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { decodeHeartbeat, heartbeatKey } from "../../sdk/aws/record/heartbeat.js";
import { openRunKey } from "../../sdk/aws/record/open-runs.js";
import { type RunSummary, readSegments, readSummary } from "../../sdk/aws/record/run-log.js";
import type { Outcome } from "../../sdk/aws/wire/messages.js";
import { readRunKey } from "../../sdk/aws/wire/run-key.js";
import {
  announce,
  cube,
  describeText,
  flakyWithoutRetries,
  flakyWithRetries,
  InventoryShortError,
  LedgerOverflowError,
  ledgerText,
  makeBlob,
  measure,
  nap,
  overflowLedger,
  oversleep,
  reserveStock,
  retryInAnHour,
  scheduleOrder,
  sleepThenCube,
} from "../fixtures/lambda-runner-tasks.js";
import { sleep, thrownBy } from "../support/async.js";
import { type FakeStack, startFakeStack } from "../support/fake-stack.js";

// Engine log lines are not under test unless a test says so; keep them off stderr.
beforeEach(() => configureLogging({ write: () => {} }));
afterEach(() => resetLogging());

let local: LocalEnvironment;
let runner: LambdaTaskRunner;
/** The local environment's bucket, read as the test's own client sees it. */
let bucket: S3ResultStore;
let dir: string;

beforeAll(async () => {
  [local, dir] = await Promise.all([
    startLocalEnvironment({ workers: 2 }),
    mkdtemp(join(tmpdir(), "squall-lambda-")),
  ]);
  runner = new LambdaTaskRunner(local.address);
  const { bucket: name, endpoint, region } = local.address;
  bucket = new S3ResultStore({ bucket: name, endpoint, region });
}, 30_000);
afterAll(async () => {
  await local?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Run info (attempts, ...) that a future carries at runtime. */
const infoOf = (future: TaskFuture<unknown>) => future as unknown as TaskRunInfo;

/** The value a completed flow run returned; fails the test for any other state. */
function resultOf<R>(state: FlowRunState<R>): R {
  if (state.type !== "COMPLETED") {
    throw new Error(`Expected a completed flow run, got ${state.name}: ${String(state.error)}`);
  }
  return state.result;
}

/** The lines a fixture task appended to `file`. */
function linesOf(file: string): string[] {
  return existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean) : [];
}

/** Waits until `check` holds, for up to `ms`; whether it did. */
async function eventually(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) {
    if (await check()) return true;
  }
  return check();
}

/** The run's summary once the coordinator has marked the flow run final (or as it is after 10 s). */
async function finalSummary(flowRunId: string): Promise<RunSummary | undefined> {
  let summary: RunSummary | undefined;
  await eventually(async () => {
    summary = await readSummary(bucket, flowRunId);
    return summary?.state !== undefined;
  });
  return summary;
}

/** Every outcome in the run's record, in the order the coordinator appended them. */
async function recordedOutcomes(flowRunId: string): Promise<Outcome[]> {
  const { segments } = await readSegments(bucket, flowRunId, 0);
  return segments.flatMap((segment) => segment.outcomes);
}

describe("LambdaTaskRunner on the local environment", () => {
  it("gives .submit() and .map() results in input order, whatever order the workers finish in", async () => {
    const ordered = flow({ taskRunner: runner }, async function ordered() {
      const single = cube.submit(7);
      const mapped = sleepThenCube.map([1, 2, 3, 4, 5], [400, 0, 300, 50, 0]);
      return { single: await single.result(), mapped: await mapped.result() };
    });

    expect(await ordered()).toEqual({ single: 343, mapped: [1, 8, 27, 64, 125] });
  });

  it("beats for a flow run that sends tasks, and leaves it final with no open marker", async () => {
    const beating = flow({ taskRunner: runner }, async function beating() {
      return { flowRunId: getRunContext().flowRun.id, cube: await cube.submit(3).result() };
    });
    const quiet = flow({ taskRunner: runner }, async function quiet() {
      return getRunContext().flowRun.id;
    });

    const { flowRunId } = await beating();
    const idle = await quiet();

    const runKey = await readRunKey((key) => bucket.get(key), flowRunId);
    const beat = await bucket.get(heartbeatKey(flowRunId));
    expect(runKey && beat && decodeHeartbeat(runKey.key, flowRunId, beat)).toMatchObject({
      flowRunId,
      flowName: "beating",
      silentAfterSeconds: 180,
    });
    expect((await finalSummary(flowRunId))?.state).toBe("Completed");
    // The coordinator deletes the marker just after the final summary.
    expect(await eventually(async () => !(await bucket.exists(openRunKey(flowRunId))))).toBe(true);
    // A flow run that sent no task runs has nothing out: no heartbeat.
    expect((await finalSummary(idle))?.state).toBe("Completed");
    expect(await bucket.exists(heartbeatKey(idle))).toBe(false);
    expect(await bucket.exists(openRunKey(idle))).toBe(false);
  });

  it("beats with the deployment's bound when the caller sets none, and with its own when it does", async () => {
    const stack = await startFakeStack("Squall", local.address, { outputs: { CallerSilenceSeconds: "90" } });
    try {
      const beatOf = async (silence?: number) => {
        const runs = new LambdaTaskRunner({
          stack: "Squall",
          endpoint: stack.endpoint,
          callerSilenceSeconds: silence,
        });
        const beating = flow({ taskRunner: runs }, async function beating() {
          await cube.submit(2).result();
          return getRunContext().flowRun.id;
        });
        const flowRunId = await beating();
        const runKey = await readRunKey((key) => bucket.get(key), flowRunId);
        const beat = await bucket.get(heartbeatKey(flowRunId));
        return runKey && beat && decodeHeartbeat(runKey.key, flowRunId, beat)?.silentAfterSeconds;
      };

      expect(await beatOf()).toBe(90);
      expect(await beatOf(30)).toBe(30);
      // The local environment's own bound, 180 s unless set.
      expect(local.address.callerSilenceSeconds).toBe(180);
    } finally {
      await stack.close();
    }
  });

  it("carries objects, Dates and Maps both ways through the default serializer", async () => {
    const rich = flow({ taskRunner: runner }, async function rich() {
      return scheduleOrder
        .submit({
          placed: new Date("2024-01-31T10:00:00.000Z"),
          lines: new Map([
            ["towel", 1],
            ["guide", 2],
          ]),
        })
        .result();
    });

    const out = await rich();

    expect(out.received).toEqual({ placed: true, lines: true });
    expect(out.due).toBeInstanceOf(Date);
    expect(out.due.toISOString()).toBe("2024-02-01T10:00:00.000Z");
    expect(out.lines).toBeInstanceOf(Map);
    expect([...out.lines]).toEqual([
      ["towel", 2],
      ["guide", 4],
    ]);
  });

  it("passes an upstream future's result to a downstream run", async () => {
    const chained = flow({ taskRunner: runner }, async function chained() {
      return cube.submit(cube.submit(2)).result();
    });

    expect(await chained()).toBe(512);
  });

  it("replays a task's console output and run-logger lines in the caller, attributed to its run", async () => {
    const lines: string[] = [];
    configureLogging({ write: (line) => lines.push(line.trimEnd()) });
    const out: string[] = [];
    const err: string[] = [];
    const stdout = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
      err.push(String(chunk));
      return true;
    });
    const chatty = flow({ taskRunner: runner }, async function chattyInTheFleet() {
      return announce.map(["arthur", "ford"]).result();
    });
    try {
      expect(await chatty()).toEqual(["arthur", "ford"]);
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
    }

    expect(out.filter((text) => text.includes("hello from the fleet")).sort()).toEqual([
      "hello from the fleet, arthur\n",
      "hello from the fleet, ford\n",
    ]);
    expect(err.filter((text) => text.includes("complaint about")).sort()).toEqual([
      "complaint about arthur\n",
      "complaint about ford\n",
    ]);
    expect(lines.filter((line) => line.includes("Task run 'announce-")).sort()).toEqual([
      expect.stringMatching(/^\d\d:\d\d:\d\d\.\d{3} \| INFO {5}\| Task run 'announce-0' - announced arthur$/),
      expect.stringMatching(/^\d\d:\d\d:\d\d\.\d{3} \| INFO {5}\| Task run 'announce-1' - announced ford$/),
    ]);
  });

  it("ends a run that throws Failed, with its error as the class the task's module exports", async () => {
    let future: TaskFuture<never> | undefined;
    const shortOfStock = flow({ taskRunner: runner }, async function shortOfStock() {
      future = reserveStock.submit("sku-42", 3);
      return future.result({ raiseOnFailure: false });
    });

    const error = (await shortOfStock()) as InventoryShortError & { taskRunName?: string };

    expect(error).toBeInstanceOf(InventoryShortError);
    expect(error.name).toBe("InventoryShortError");
    expect(error.message).toBe("only 1 of sku-42 left, 3 wanted");
    expect(error.sku).toBe("sku-42");
    expect(error.wanted).toBe(3);
    expect(error.stack).toContain("lambda-runner-tasks.ts");
    expect(error.taskRunName).toBe("reserveStock-0");
    const state = future?.state;
    expect(state?.name).toBe("Failed");
    expect(state?.type === "FAILED" && state.error).toBe(error);
  });

  describe("an error too large for its outcome", () => {
    afterEach(() => local.injectFaults(undefined));

    /** Runs overflowLedger in a flow; its error, and the key of the whole error in the run's record. */
    async function overflowed(
      messageKiB: number,
      detailKiB: number,
      beforeResult?: (flowRunId: string) => Promise<void>,
    ) {
      const overflowing = flow({ taskRunner: runner }, async function overflowing() {
        const future = overflowLedger.submit(messageKiB, detailKiB);
        const flowRunId = getRunContext().flowRun.id;
        await beforeResult?.(flowRunId);
        return { error: await future.result({ raiseOnFailure: false }), flowRunId };
      });
      const { error, flowRunId } = await overflowing();
      const [outcome] = await recordedOutcomes(flowRunId);
      const payload = outcome?.payload as { text: string; stored?: { key: string; size: number } };
      return { error: error as LedgerOverflowError, flowRunId, stored: payload.stored, inline: payload.text };
    }

    it("comes back whole, as the class the task's module exports, with its fields", async () => {
      const { error, flowRunId, stored, inline } = await overflowed(200, 0);

      expect(error).toBeInstanceOf(LedgerOverflowError);
      expect(error.name).toBe("LedgerOverflowError");
      expect(error.message).toBe(ledgerText(200));
      expect(error.account).toBe("acct-7");
      expect(error.entries).toEqual([3, 1, 4, 1, 5, 9, 2, 6]);
      expect(error.detail).toBe(ledgerText(0, "detail"));
      expect(error.stack).toContain("lambda-runner-tasks.ts");
      // The record carries a copy cut short, and where the whole error is.
      expect(stored?.key).toMatch(new RegExp(`^runs/${flowRunId}/results/[A-Za-z0-9_-]+-1-[0-9a-f]{8}$`));
      expect(stored?.size).toBe((await bucket.get(stored?.key as string))?.byteLength);
      expect(inline.length).toBeLessThan(64 * 1024);
      expect(inline).toContain(`the whole error is stored at ${stored?.key})`);
    });

    it("comes back whole when its fields are too large to sit in the outcome too", async () => {
      const { error, stored } = await overflowed(100, 120);

      expect(error).toBeInstanceOf(LedgerOverflowError);
      expect(error.message).toBe(ledgerText(100));
      expect(error.detail).toBe(ledgerText(120, "detail"));
      expect(error.entries).toEqual([3, 1, 4, 1, 5, 9, 2, 6]);
      expect(stored?.key).toBeDefined();
    });

    it("comes back as the outcome's shortened copy, saying so, when the whole error cannot be read", async () => {
      // The outcome is held back long enough to remove the whole error before the caller reads it.
      local.injectFaults({ delaySends: { when: (body) => body.includes("cut short"), ms: 2_000 } });
      let removed = "";
      const { error, stored } = await overflowed(200, 0, async (flowRunId) => {
        await eventually(async () => (await bucket.list(`runs/${flowRunId}/results/`)).length > 0);
        removed = (await bucket.list(`runs/${flowRunId}/results/`))[0] as string;
        await bucket.delete(removed);
      });

      expect(stored?.key).toBe(removed);
      expect(error).toBeInstanceOf(LedgerOverflowError);
      expect(error.account).toBeUndefined(); // the copy carries its class, message and stack only
      const kib = Math.ceil((stored?.size as number) / 1024);
      const message = `${ledgerText(200).slice(0, 4_000)}... (cut short: its error was ${kib} KiB, more than an outcome carries; the whole error is stored at ${removed}) [The whole error could not be read from "${removed}" (there is no such object): this is the outcome's copy, cut short.]`;
      expect(error.message).toBe(message);
      expect(error.stack?.startsWith(`LedgerOverflowError: ${message}\n`)).toBe(true);
    });
  });

  it("retries in the fleet: a run that fails twice completes on its third attempt", async () => {
    const file = join(dir, "retries.count");
    let future: TaskFuture<string> | undefined;
    const retried = flow({ taskRunner: runner }, async function retriedInTheFleet() {
      future = flakyWithRetries.submit(file);
      return { value: await future.result(), flowRunId: getRunContext().flowRun.id };
    });

    const { value, flowRunId } = await retried();

    expect(value).toBe("attempt 3 succeeds (count 3)");
    expect(readFileSync(file, "utf8")).toBe("3");
    expect(future?.state.name).toBe("Completed");
    expect(infoOf(future as TaskFuture<string>).attempts).toBe(3);
    // The workers re-queued the failed attempts themselves: the record holds each attempt.
    const outcomes = (await recordedOutcomes(flowRunId)).filter(
      (outcome) => outcome.taskRunId === future?.taskRunId,
    );
    // By attempt: a worker queues the retry before it reports the attempt, so under load the next
    // attempt's outcome may reach the record first.
    outcomes.sort((a, b) => a.attempt - b.attempt);
    expect(outcomes.map((outcome) => [outcome.attempt, outcome.status])).toEqual([
      [1, "retrying"],
      [2, "retrying"],
      [3, "completed"],
    ]);
  });

  // Bug: the worker retries with the retries and delay of the task as its module defines it
  // (worker/run-record.ts, retryDelaySeconds(def.settings, ...)); a task record carries no retry
  // settings (wire/messages.ts TaskRecordSchema), so `withOptions({ retries })` is ignored on
  // LambdaTaskRunner, while the caller checks that very policy at .submit() (session.ts
  // #checkRetries) and the README documents withOptions({ retries }) for one use. Here the
  // run fails on its first attempt. Fix: carry retries, delay and jitter in the task record
  // and have the worker use them.
  it("retries a run as many times as withOptions() says", async () => {
    const file = join(dir, "with-options-retries.count");
    let future: TaskFuture<string> | undefined;
    const retried = flow({ taskRunner: runner }, async function retriedByOptions() {
      future = flakyWithoutRetries.withOptions({ retries: 2, retryDelaySeconds: 0 }).submit(file);
      return future.result({ raiseOnFailure: false });
    });

    expect(await retried()).toBe("attempt 3 succeeds (count 3)");
    expect(infoOf(future as TaskFuture<string>).attempts).toBe(3);
  });

  it("refuses at .submit() a retry delay longer than SQS can hold, naming the task, and the flow goes on", async () => {
    const caught: unknown[] = [];
    const refusing = flow({ taskRunner: runner }, async function refusingLongDelay() {
      try {
        retryInAnHour.submit();
      } catch (error) {
        caught.push(error);
      }
      return cube.submit(3).result();
    });

    const state = await refusing.run();

    expect(resultOf(state)).toBe(27);
    expect(caught).toHaveLength(1);
    expect(caught[0]).toBeInstanceOf(InvalidArgumentError);
    expect((caught[0] as Error).message).toBe(
      "Task 'retryInAnHour' waits up to 3600 seconds before retry 1; on LambdaTaskRunner a retry waits in SQS, at most 900 seconds. Give it shorter `retryDelaySeconds`.",
    );
  });

  it("ends a run that overruns its timeout TimedOut with a TaskTimeoutError, without waiting for it", async () => {
    let future: TaskFuture<string> | undefined;
    const timed = flow({ taskRunner: runner }, async function timedInTheFleet() {
      const started = Date.now();
      future = oversleep.submit(5_000);
      const error = await future.result({ raiseOnFailure: false });
      return { error, elapsedMs: Date.now() - started };
    });

    const { error, elapsedMs } = await timed();

    expect(future?.state.name).toBe("TimedOut");
    expect(future?.state.type).toBe("FAILED");
    expect(error).toBeInstanceOf(TaskTimeoutError);
    expect((error as Error).message).toBe("Task run 'oversleep-0' exceeded its timeout of 0.5 seconds.");
    expect(elapsedMs).toBeLessThan(4_000); // the task sleeps 5 s; its outcome comes at the deadline
  });

  it("sends large arguments and brings back large results through the bucket, by key", async () => {
    const text = "don't panic ".repeat(25_000); // 300 KB, beyond an SQS message
    const large = flow({ taskRunner: runner }, async function largePayloads() {
      const described = describeText.submit(text);
      const blob = makeBlob.submit(50_000); // 100 KB
      const length = measure.submit(blob); // a stored result passes on by reference
      return {
        described: await described.result(),
        blob: await blob.result(),
        length: await length.result(),
        flowRunId: getRunContext().flowRun.id,
        argsKey: `runs/${getRunContext().flowRun.id}/payloads/${described.taskRunId}-1`,
        resultPrefix: `runs/${getRunContext().flowRun.id}/results/${blob.taskRunId}-1-`,
      };
    });

    const { described, blob, length, flowRunId, argsKey, resultPrefix } = await large();

    expect(described).toEqual({ length: 300_000, words: 50_000 });
    expect(blob).toBeTypeOf("string");
    expect(blob).toBe("ab".repeat(50_000));
    expect(length).toBe(100_000);
    const keys = await bucket.list(`runs/${flowRunId}/`);
    expect(keys).toContain(argsKey);
    // One stored result, under a key of its own execution (attempt 1).
    expect(keys.filter((key) => key.startsWith(resultPrefix))).toHaveLength(1);
  });

  // The emulator takes at most 11 MiB a request, as S3 takes 5 GiB a PutObject: values above 8 MiB
  // go up in parts. 20 MiB each way keeps the test's memory modest.
  it("carries a 20 MiB argument and a 20 MiB result through the bucket, in parts", {
    timeout: 60_000,
  }, async () => {
    const text = "don't panic ".repeat(1_800_000); // 21.6 MB, above 20 MiB
    const big = flow({ taskRunner: runner }, async function twentyMebibytes() {
      const described = describeText.submit(text);
      const blob = makeBlob.submit(10 * 1024 * 1024); // 20 MiB
      return { described: await described.result(), blob: await blob.result() };
    });

    const { described, blob } = await big();

    expect(described).toEqual({ length: 21_600_000, words: 3_600_000 });
    expect(blob.length).toBe(20 * 1024 * 1024);
    expect(blob === "ab".repeat(10 * 1024 * 1024)).toBe(true); // not toBe: a failure would print 20 MiB
  });

  it("sends through the bucket arguments too large for a message, whatever inlineArgBytes says", async () => {
    const text = "don't panic ".repeat(25_000); // 300 KB
    const generous = new LambdaTaskRunner({ ...local.address, inlineArgBytes: 1_000_000 });
    const described = flow({ taskRunner: generous }, async function oversized() {
      const future = describeText.submit(text);
      return {
        described: await future.result(),
        taskRunId: future.taskRunId,
        flowRunId: getRunContext().flowRun.id,
      };
    });

    const { described: result, taskRunId, flowRunId } = await described();

    expect(result).toEqual({ length: 300_000, words: 50_000 });
    expect(await bucket.list(`runs/${flowRunId}/payloads/`)).toEqual([
      `runs/${flowRunId}/payloads/${taskRunId}-1`,
    ]);
  });

  // A flow's return value has its futures replaced by their results; a result stored by
  // reference is loaded, so the caller gets the value the task returned, not a reference.
  it("gives a large result from a future the flow returns", async () => {
    const returning = flow({ taskRunner: runner }, function returningLarge() {
      return { blob: makeBlob.submit(50_000) };
    });

    const { blob } = await returning();

    expect(blob).toBeTypeOf("string");
    expect(blob).toBe("ab".repeat(50_000));
  });

  it("gives a large result through a future after its flow has finished", async () => {
    let future: TaskFuture<string> | undefined;
    const leaving = flow({ taskRunner: runner }, function leavingLarge() {
      future = makeBlob.submit(50_000);
    });

    await leaving();

    expect(future?.state.name).toBe("Completed");
    const blob = await future?.result();
    expect(blob).toBeTypeOf("string");
    expect(blob).toBe("ab".repeat(50_000));
  });

  it("cancels the flow and its runs through its signal, and marks the run cancelled in the bucket", async () => {
    const file = join(dir, "cancel.log");
    const controller = new AbortController();
    const futures: TaskFuture<string>[] = [];
    const cancellable = flow({ taskRunner: runner, signal: controller.signal }, function cancellable() {
      const naps = nap.map(file, ["first", "second"], 1_500);
      futures.push(...naps, nap.withOptions({ waitFor: naps }).submit(file, "after", 0));
    });

    const outcome = cancellable.run();
    expect(await eventually(() => linesOf(file).length === 2)).toBe(true);
    controller.abort(new Error("user pressed stop"));
    const state = await outcome;

    expect(state.name).toBe("Cancelled");
    expect(state.type === "CANCELLED" && state.error).toBeInstanceOf(CancelledError);
    expect(state.type === "CANCELLED" && state.error.message).toBe(
      `Flow run '${state.flowRun.name}' was cancelled: user pressed stop`,
    );
    expect(futures.map((future) => future.state.name)).toEqual(["Cancelled", "Cancelled", "Cancelled"]);
    expect(
      futures.map((future) => (future.state.type === "CANCELLED" ? future.state.error.message : "")),
    ).toEqual([
      "Task run 'nap-0' was cancelled: user pressed stop",
      "Task run 'nap-1' was cancelled: user pressed stop",
      "Task run 'nap-2' was cancelled: user pressed stop",
    ]);
    // Workers learn it from the run's key object, which they read for each batch.
    const cancelled = async () => (await readRunKey((key) => bucket.get(key), state.flowRun.id))?.cancelled;
    expect(await eventually(async () => (await cancelled()) === true, 5_000)).toBe(true);
    // The naps, already running, finish in the fleet; the run queued behind them never starts,
    // and the record ends as the flow did.
    const summary = await finalSummary(state.flowRun.id);
    expect(summary?.state).toBe("Cancelled");
    expect(linesOf(file).sort()).toEqual(["done first", "done second", "start first", "start second"]);
  });

  it("records a completed flow run's summary: Completed, with every task counted", async () => {
    const counted = flow({ taskRunner: runner }, async function counted() {
      return cube.map([1, 2, 3, 4, 5]).result();
    });

    const state = await counted.run();

    expect(resultOf(state)).toEqual([1, 8, 27, 64, 125]);
    const summary = await finalSummary(state.flowRun.id);
    expect(summary?.state).toBe("Completed");
    expect(summary?.counts).toEqual({ completed: 5, failed: 0, crashed: 0, cancelled: 0 });
    expect(summary?.returned?.tasks).toBe(5);
  });

  it("records a flow run whose task failed unhandled as Failed", async () => {
    const failing = flow({ taskRunner: runner }, function failingInTheFleet() {
      cube.submit(2);
      reserveStock.submit("sku-7", 2);
    });

    const state = await failing.run();

    expect(state.name).toBe("Failed");
    expect(state.type === "FAILED" && state.error).toBeInstanceOf(TaskRunsFailedError);
    const summary = await finalSummary(state.flowRun.id);
    expect(summary?.state).toBe("Failed");
    expect(summary?.counts).toEqual({ completed: 1, failed: 1, crashed: 0, cancelled: 0 });
  });

  it("serves two flows at once from one runner", async () => {
    const first = flow({ taskRunner: runner }, async function firstOfTwo() {
      return sleepThenCube.map([1, 2], 200).result();
    });
    const second = flow({ taskRunner: runner }, async function secondOfTwo() {
      return cube.map([3, 4]).result();
    });

    expect(await Promise.all([first(), second()])).toEqual([
      [1, 8],
      [27, 64],
    ]);
  });
});

describe("LambdaTaskRunner with no address", () => {
  it("starts a local environment for the flow run and stops it when the run ends", async () => {
    const onTheFly = new LambdaTaskRunner();
    let seen: LocalEnvironment | undefined;
    const selfContained = flow({ taskRunner: onTheFly }, async function selfContained() {
      seen = onTheFly.localEnvironment;
      return cube.map([2, 3]).result();
    });

    expect(await selfContained()).toEqual([8, 27]);

    expect(seen?.address.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(seen?.address.bucket).not.toBe(local.address.bucket);
    expect(onTheFly.localEnvironment).toBeUndefined();
    // Its emulator is gone.
    await expect(fetch(seen?.address.endpoint as string)).rejects.toThrow();
  });
});

describe("LambdaTaskRunner with keepLocal", () => {
  it("keeps its local environment after the flow run and prints where to look inside", async () => {
    const kept = new LambdaTaskRunner({ keepLocal: true });
    const printed: string[] = [];
    const write = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
      printed.push(String(chunk));
      return true;
    });
    const keptFlow = flow({ taskRunner: kept }, async function keptFlow() {
      return cube.map([4]).result();
    });
    try {
      expect(await keptFlow()).toEqual([64]);
    } finally {
      write.mockRestore();
    }
    const environment = kept.localEnvironment;
    try {
      expect(environment).toBeDefined();
      const { endpoint, bucket } = environment?.address ?? { endpoint: "", bucket: "" };
      const banner = printed.join("");
      const { taskQueueUrl, completionQueueUrl } = environment?.address ?? {};
      expect(banner).toBe(
        [
          `squall: local environment at ${endpoint}, bucket ${bucket}`,
          `  task queue ${taskQueueUrl}`,
          `  completion queue ${completionQueueUrl}`,
          `  dead-letter queue ${environment?.deadLetterQueueUrl}`,
          `  look inside: aws --endpoint-url ${endpoint} s3 ls s3://${bucket}/runs/ --recursive`,
          `               aws --endpoint-url ${endpoint} sqs get-queue-attributes --queue-url ${taskQueueUrl} --attribute-names All`,
          "",
        ].join("\n"),
      );
      // Still serving: the run's record is there to look at (its summary follows the segment the
      // flow's result came from, so it may land just after the flow returns).
      const listed = async () => {
        const response = await fetch(`${endpoint}/${bucket}?list-type=2&prefix=runs/`);
        return response.status === 200 && (await response.text()).includes("/summary");
      };
      expect(await eventually(listed, 5_000)).toBe(true);
    } finally {
      await environment?.stop();
    }
  });
});

// Lambda ends a worker at its function's timeout, so a task with a longer one is refused at
// .submit(), wherever the runner learns the worker's timeout from.
describe("LambdaTaskRunner and the worker function's timeout", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  const refusal = (seconds: number, limit: number) =>
    `Task 'cube' has a timeout of ${seconds} seconds, longer than the worker function's timeout of ${limit} seconds: Lambda would end the worker before the task's deadline. Raise the worker's timeout in the Squall construct (\`worker: { timeout }\`), or lower the task's \`timeoutSeconds\`.`;

  /** Submits cube(2) with `longer` seconds of timeout, then cube(3) with `fitting`; what each did. */
  async function submitBoth(taskRunner: LambdaTaskRunner, longer: number, fitting: number) {
    const caught: unknown[] = [];
    const both = flow({ taskRunner, name: `timeouts-${longer}-${fitting}` }, async function both() {
      let first: number | undefined;
      try {
        first = await cube.withOptions({ timeoutSeconds: longer }).submit(2).result();
      } catch (error) {
        caught.push(error);
      }
      return { first, second: await cube.withOptions({ timeoutSeconds: fitting }).submit(3).result() };
    });
    return { ...(await both()), caught };
  }

  it("learns it from the local environment's own worker timeout, 60 s unless set", async () => {
    expect(local.address.workerTimeoutSeconds).toBe(60);

    const { first, second, caught } = await submitBoth(runner, 61, 60);

    expect(first).toBeUndefined();
    expect(second).toBe(27);
    expect(caught).toHaveLength(1);
    expect(caught[0]).toBeInstanceOf(InvalidArgumentError);
    expect((caught[0] as Error).message).toBe(refusal(61, 60));
  });

  it("learns it from SQUALL_WORKER_TIMEOUT_SECONDS, as the flow-runner function has it", async () => {
    vi.stubEnv("SQUALL_REGION", local.address.region);
    vi.stubEnv("SQUALL_ENDPOINT", local.address.endpoint);
    vi.stubEnv("SQUALL_TASK_QUEUE_URL", local.address.taskQueueUrl);
    vi.stubEnv("SQUALL_COMPLETION_QUEUE_URL", local.address.completionQueueUrl);
    vi.stubEnv("SQUALL_BUCKET", local.address.bucket);
    vi.stubEnv("SQUALL_WORKER_TIMEOUT_SECONDS", "5");

    const { first, second, caught } = await submitBoth(new LambdaTaskRunner(), 5.5, 5);

    expect([first, second]).toEqual([undefined, 27]);
    expect((caught[0] as Error).message).toBe(refusal(5.5, 5));
  });

  it("learns it from the stack's WorkerTimeoutSeconds output", async () => {
    const stack = await startFakeStack("Squall", local.address, { outputs: { WorkerTimeoutSeconds: "10" } });
    try {
      const onStack = new LambdaTaskRunner({ stack: "Squall", endpoint: stack.endpoint });

      const { first, second, caught } = await submitBoth(onStack, 11, 10);

      expect([first, second]).toEqual([undefined, 27]);
      expect((caught[0] as Error).message).toBe(refusal(11, 10));
      expect(stack.describeCalls()).toBe(1);
    } finally {
      await stack.close();
    }
  });

  it("accepts any timeout where it is not known: an address given without it", async () => {
    const { workerTimeoutSeconds: _unknown, ...address } = local.address;

    const { first, second, caught } = await submitBoth(new LambdaTaskRunner(address), 3600, 1);

    expect([first, second]).toEqual([8, 27]);
    expect(caught).toEqual([]);
  });
});

// The stack's flow-runner: its role may not read CloudFormation, and its own SQUALL_* variables
// (here pointing at the local environment) say where its stack's queues and bucket are.
describe("LambdaTaskRunner in the stack's flow-runner function", () => {
  let cloudFormation: FakeStack;
  beforeAll(async () => {
    cloudFormation = await startFakeStack("Squall", local.address, { deny: true });
  });
  afterAll(() => cloudFormation?.close());
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  /** The variables Lambda and the stack set on the flow-runner. */
  function inTheFlowRunner(): void {
    vi.stubEnv("AWS_LAMBDA_FUNCTION_NAME", "Squall-FlowRunner");
    vi.stubEnv("SQUALL_STACK_NAME", "Squall");
    vi.stubEnv("SQUALL_REGION", local.address.region);
    vi.stubEnv("SQUALL_ENDPOINT", local.address.endpoint);
    vi.stubEnv("SQUALL_TASK_QUEUE_URL", local.address.taskQueueUrl);
    vi.stubEnv("SQUALL_COMPLETION_QUEUE_URL", local.address.completionQueueUrl);
    vi.stubEnv("SQUALL_BUCKET", local.address.bucket);
  }

  it("runs on its own variables' queues and bucket given { stack } naming its own stack, reading no outputs", async () => {
    inTheFlowRunner();
    const runner = new LambdaTaskRunner({ stack: "Squall", endpoint: cloudFormation.endpoint });
    const onItsOwnStack = flow({ taskRunner: runner }, async function onItsOwnStack() {
      return cube.map([2, 3]).result();
    });

    expect(await onItsOwnStack()).toEqual([8, 27]);
    expect(cloudFormation.describeCalls()).toBe(0);
  });

  it("takes a stack id naming its own stack as its own", async () => {
    inTheFlowRunner();
    const runner = new LambdaTaskRunner({
      stack:
        "arn:aws:cloudformation:eu-west-1:123456789012:stack/Squall/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
      endpoint: cloudFormation.endpoint,
    });
    const byStackId = flow({ taskRunner: runner }, async function byStackId() {
      return cube.map([4]).result();
    });

    expect(await byStackId()).toEqual([64]);
    expect(cloudFormation.describeCalls()).toBe(0);
  });

  it("refuses { stack } naming another stack, saying which stack it is in and what to do", async () => {
    inTheFlowRunner();
    const runner = new LambdaTaskRunner({ stack: "SquallElsewhere", endpoint: cloudFormation.endpoint });
    const onAnotherStack = flow({ taskRunner: runner }, async function onAnotherStack() {
      return cube.map([2]).result();
    });

    const state = await onAnotherStack.run();

    expect(state.name).toBe("Failed");
    const error = (state as { error: Error }).error;
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.message).toBe(
      `LambdaTaskRunner({ stack: "SquallElsewhere" }) runs in Lambda function 'Squall-FlowRunner' of stack 'Squall', which reaches only its own stack's queues and bucket. Name its own stack ("Squall") or leave \`stack\` out to run the tasks there; to run them on 'SquallElsewhere', start the flow with that stack's flow-runner.`,
    );
    expect(cloudFormation.describeCalls()).toBe(0);
  });
});

describe("LambdaTaskRunner options", () => {
  it.each([
    [{ tasksPerMessage: 0 }, "Expected `tasksPerMessage` to be an integer >= 1, got `0`"],
    [{ tasksPerMessage: 2.5 }, "Expected `tasksPerMessage` to be an integer >= 1, got `2.5`"],
    [{ inlineArgBytes: -1 }, "Expected `inlineArgBytes` to be an integer >= 1, got `-1`"],
    [
      { taskQueueUrl: "x" },
      "Expected `completionQueueUrl` in the LambdaTaskRunner options, got `undefined`. Give taskQueueUrl, completionQueueUrl and bucket, or { stack }, or nothing for the local environment.",
    ],
    [
      { taskQueueUrl: "x", completionQueueUrl: "y" },
      "Expected `bucket` in the LambdaTaskRunner options, got `undefined`. Give taskQueueUrl, completionQueueUrl and bucket, or { stack }, or nothing for the local environment.",
    ],
    [
      { taskQueueUrl: "x", completionQueueUrl: "y", bucket: "z", endpoint: "127.0.0.1:4566" },
      "Expected `endpoint` in the LambdaTaskRunner options to be an http(s) URL, got `127.0.0.1:4566`",
    ],
    [{ stack: "" }, "Expected `stack` to be a stack name, got ``"],
  ])("rejects %o", (options, message) => {
    const error = thrownBy(() => new LambdaTaskRunner(options));

    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.message).toBe(message);
  });
});
