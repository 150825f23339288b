// At-least-once delivery, end to end: real flows on LambdaTaskRunner against the local environment
// (the embedded emulator, worker threads running functions/worker.ts, a coordinator thread).
// Duplicated messages, workers that die, dead letters and a task that ignores its deadline must
// each leave every task run with exactly one outcome, and no flow hanging (server errors, throttling
// and lost answers: sends-under-faults.test.ts).
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CrashedError,
  configureLogging,
  flow,
  resetLogging,
  type TaskFuture,
  TaskTimeoutError,
  unmapped,
} from "squall";
import {
  type Emulator,
  LambdaTaskRunner,
  type LocalEnvironment,
  S3ResultStore,
  startEmulator,
  startLocalEnvironment,
} from "squall/aws";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { readSegments, readSummary } from "../../sdk/aws/record/run-log.js";
import type { Outcome } from "../../sdk/aws/wire/messages.js";
import {
  diesOnEveryDelivery,
  diesOnFirstDelivery,
  failsTwice,
  ignoresItsSignal,
  tripleCounted,
} from "../fixtures/delivery-tasks.js";
import { rejectionOf, within } from "../support/async.js";
import { queuesDrained } from "../support/local-environment.js";

// Engine log lines (a crashed run logs its stack) are not under test; keep them off stderr.
beforeEach(() => configureLogging({ write: () => {} }));
afterEach(() => resetLogging());

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "squall-delivery-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A fresh folder for one test's traces, under the file's temp dir. */
function tracesDir(name: string): Promise<string> {
  return mkdtemp(join(dir, `${name}-`));
}

/** The lines a fixture task appended to `file` (worker threads share no memory with the test). */
function linesOf(file: string): string[] {
  return existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean) : [];
}

/** How many times each line occurs. */
function tally(lines: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of lines) counts.set(line, (counts.get(line) ?? 0) + 1);
  return counts;
}

/**
 * The run's record as the coordinator wrote it, read with a store of the test's own: every
 * outcome in the order written, the final ones (not `retrying`) by task run id, and the summary.
 */
async function readRecord(local: LocalEnvironment, flowRunId: string) {
  const s3 = local.emulator.s3Client();
  try {
    const { bucket, endpoint, region } = local.address;
    const store = new S3ResultStore({ bucket, endpoint, region, client: s3 });
    const { segments } = await readSegments(store, flowRunId, 0);
    const all = segments.flatMap((segment) => segment.outcomes);
    const outcomes = new Map<string, Outcome[]>();
    for (const outcome of all) {
      if (outcome.status === "retrying") continue;
      outcomes.set(outcome.taskRunId, [...(outcomes.get(outcome.taskRunId) ?? []), outcome]);
    }
    return { all, outcomes, summary: await readSummary(store, flowRunId) };
  } finally {
    s3.destroy();
  }
}

describe("LambdaTaskRunner on the local environment (its default visibility timeout and deliveries)", () => {
  let local: LocalEnvironment;
  beforeAll(async () => {
    local = await startLocalEnvironment({ workers: 2 });
  });
  afterAll(async () => {
    await local?.stop();
  });
  afterEach(() => local.injectFaults(undefined));

  it("gives each task run exactly one result when every message is delivered twice", async () => {
    const traces = await tracesDir("duplicates");
    const xs = Array.from({ length: 50 }, (_, i) => i + 1);
    const completions = new Map<string, number>();
    const counted = tripleCounted.withOptions({
      onCompletion: (_state, run) => {
        completions.set(run.id, (completions.get(run.id) ?? 0) + 1);
      },
    });
    let futures: TaskFuture<number>[] = [];
    const tripleAll = flow(
      { taskRunner: new LambdaTaskRunner(local.address) },
      async function tripleAll(values: number[]) {
        futures = counted.map(unmapped(traces), values);
        return futures;
      },
    );
    local.injectFaults({ duplicateMessages: true });

    const state = await tripleAll.run(xs);

    expect(state.type).toBe("COMPLETED");
    expect(state.type === "COMPLETED" && state.result).toEqual(xs.map((x) => 3 * x));
    const ids = futures.map((future) => future.taskRunId);
    expect(new Set(ids).size).toBe(50);
    expect(futures.map((future) => future.state.name)).toEqual(Array(50).fill("Completed"));
    expect([...completions.keys()].sort()).toEqual([...ids].sort());
    expect([...completions.values()]).toEqual(Array(50).fill(1));

    // Let every copy of every message (task messages, outcomes, the flow's notice) be handled.
    await queuesDrained(local);
    // The duplicates did arrive and run: each task run ran at least twice...
    const executions = tally(linesOf(join(traces, "executions")));
    expect([...executions.keys()].sort()).toEqual([...ids].sort());
    for (const id of ids) expect(executions.get(id)).toBeGreaterThanOrEqual(2);
    // ...yet the record holds one final outcome per task run, and counts each once.
    const { outcomes, summary } = await readRecord(local, state.flowRun.id);
    expect([...outcomes.keys()].sort()).toEqual([...ids].sort());
    for (const id of ids) {
      expect(outcomes.get(id)?.map((outcome) => outcome.status)).toEqual(["completed"]);
    }
    expect(summary?.counts).toEqual({ completed: 50, failed: 0, crashed: 0, cancelled: 0 });
    expect(summary?.state).toBe("Completed");
  });

  it("delivers a task run again when its worker thread dies mid-task, and the flow completes", async () => {
    const traces = await tracesDir("dies-once");
    let future: TaskFuture<number> | undefined;
    const survivesADeadWorker = flow(
      { taskRunner: new LambdaTaskRunner(local.address) },
      async function survivesADeadWorker(x: number) {
        future = diesOnFirstDelivery.submit(traces, x);
        return future;
      },
    );

    // The dead thread's message is released at once: no waiting out its visibility timeout (six minutes by default).
    const value = await within(15_000, survivesADeadWorker(41));

    expect(value).toBe(42);
    expect(existsSync(join(traces, "delivered"))).toBe(true); // the first delivery did kill its worker
    expect(future?.state.name).toBe("Completed");
  });

  it("records every attempt of a retried run, and replays each here, before the flow has its result", async () => {
    // A worker queues a retry before it reports the attempt that failed: hold attempt 2's report
    // back so that attempt 3 runs on the other worker and reaches the record first.
    const reportsAttempt2 = (body: string) =>
      (JSON.parse(body) as { outcomes?: Outcome[] }).outcomes?.some(
        (outcome) => outcome.attempt === 2 && outcome.status === "retrying",
      ) ?? false;
    local.injectFaults({ delaySends: { when: reportsAttempt2, ms: 2_000 } });
    const out: string[] = [];
    const stdout = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    let future: TaskFuture<string> | undefined;
    const retried = flow(
      { taskRunner: new LambdaTaskRunner(local.address) },
      async function retriedWithALateReport() {
        future = failsTwice.submit();
        return future;
      },
    );

    let state: Awaited<ReturnType<typeof retried.run>>;
    try {
      state = await retried.run();
    } finally {
      stdout.mockRestore();
    }

    expect(state.type === "COMPLETED" && state.result).toBe("attempt 3 succeeds");
    const { all, summary } = await readRecord(local, state.flowRun.id);
    const attempts = all.filter((outcome) => outcome.taskRunId === future?.taskRunId);
    // Attempt 3 made the run final first; attempt 2 came after it, and is in the record too.
    expect(attempts.map((outcome) => [outcome.attempt, outcome.status])).toEqual([
      [1, "retrying"],
      [3, "completed"],
      [2, "retrying"],
    ]);
    expect(summary?.counts).toEqual({ completed: 1, failed: 0, crashed: 0, cancelled: 0 });
    // Each attempt's output was replayed here, in attempt order, the final one last.
    expect(out.filter((text) => text.startsWith("attempt "))).toEqual([
      "attempt 1 ran\n",
      "attempt 2 ran\n",
      "attempt 3 ran\n",
    ]);
  });

  it("replays each attempt's output and retry line here in attempt order, and records the retry lines", async () => {
    // Hold attempt 1's report back so that attempt 2's, and the final one, reach the record first.
    const reportsAttempt1 = (body: string) =>
      (JSON.parse(body) as { outcomes?: Outcome[] }).outcomes?.some(
        (outcome) => outcome.attempt === 1 && outcome.status === "retrying",
      ) ?? false;
    local.injectFaults({ delaySends: { when: reportsAttempt1, ms: 2_000 } });
    const seen: string[] = [];
    configureLogging({ write: (line) => seen.push(line) });
    const stdout = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      seen.push(String(chunk));
      return true;
    });
    let future: TaskFuture<string> | undefined;
    const retried = flow(
      { taskRunner: new LambdaTaskRunner(local.address) },
      async function retriedWithAnEarlyReport() {
        future = failsTwice.submit();
        return future;
      },
    );

    let state: Awaited<ReturnType<typeof retried.run>>;
    try {
      state = await retried.run();
    } finally {
      stdout.mockRestore();
    }

    expect(state.type === "COMPLETED" && state.result).toBe("attempt 3 succeeds");
    const retryLine = (attempt: number) =>
      `Attempt ${attempt} failed with Error: attempt ${attempt} fails. Retry ${attempt}/2 starts in 0 s.`;
    // The terminal's lines in the order written (a log line leads with its time and run).
    const lines = seen.flatMap(
      (text) => text.match(/attempt \d ran|Attempt \d failed.*starts in \d+ s\./) ?? [],
    );
    expect(lines).toEqual(["attempt 1 ran", retryLine(1), "attempt 2 ran", retryLine(2), "attempt 3 ran"]);
    const { all } = await readRecord(local, state.flowRun.id);
    const recorded = all
      .filter((outcome) => outcome.taskRunId === future?.taskRunId)
      .sort((a, b) => a.attempt - b.attempt)
      .map((outcome) => outcome.logs.map((entry) => ("stream" in entry ? entry.text : entry.message)));
    expect(recorded).toEqual([
      ["attempt 1 ran", retryLine(1)],
      ["attempt 2 ran", retryLine(2)],
      ["attempt 3 ran"],
    ]);
  });

  it("fails a task run that ignores its AbortSignal at its deadline, long before it would return", async () => {
    let future: TaskFuture<string> | undefined;
    const waitsTooLong = flow(
      { taskRunner: new LambdaTaskRunner(local.address) },
      async function waitsTooLong() {
        future = ignoresItsSignal.withOptions({ timeoutSeconds: 0.5 }).submit(5_000);
        return future;
      },
    );
    const started = Date.now();

    const error = await rejectionOf(waitsTooLong());

    const elapsed = Date.now() - started;
    expect(error).toBeInstanceOf(TaskTimeoutError);
    expect(error.message).toMatch(/exceeded its timeout of 0.5 seconds/);
    expect(future?.state.name).toBe("TimedOut");
    expect(elapsed).toBeGreaterThanOrEqual(500);
    expect(elapsed).toBeLessThan(4_000);
  });
});

describe("LambdaTaskRunner on the local environment (visibility 2 s, 2 deliveries)", () => {
  let local: LocalEnvironment;
  beforeAll(async () => {
    local = await startLocalEnvironment({
      workers: 2,
      maxReceiveCount: 2,
      visibilitySeconds: 2,
      workerTimeoutSeconds: 2,
    });
  });
  afterAll(async () => {
    await local?.stop();
  });
  afterEach(() => local.injectFaults(undefined));

  it("crashes a task run that kills its worker on every delivery, via the dead-letter queue, and fails its flow", {
    timeout: 40_000,
  }, async () => {
    const traces = await tracesDir("dies-always");
    let future: TaskFuture<never> | undefined;
    const killsEveryWorker = flow(
      { taskRunner: new LambdaTaskRunner(local.address) },
      async function killsEveryWorker() {
        future = diesOnEveryDelivery.submit(traces);
        return future;
      },
    );

    const state = await within(30_000, killsEveryWorker.run());

    expect(state).not.toBe("still running");
    if (state === "still running") return;
    expect(state.type).toBe("FAILED");
    expect(future?.state.name).toBe("Crashed");
    const error = state.type === "FAILED" ? state.error : undefined;
    expect(error).toBeInstanceOf(CrashedError);
    expect(error?.message).toMatch(/delivered (\d+ times|repeatedly) without an outcome/);
    expect(linesOf(join(traces, "deliveries"))).toHaveLength(2); // maxReceiveCount, then dead-lettered
  });
});

// The run's record relies on conditional PUTs: a segment is created with `If-None-Match: *`, so two writers can
// never both take one number. The emulator fills conditional PUTs in (sdk/aws/emulator.ts, fillConditionalPut)
// by sending itself a HEAD and then a plain PUT; until 78629cc the fault layer (sdk/aws/local/faults.ts) failed
// those inner requests too. Each test starts an emulator of its own, with no other client, so the n-th request
// the fault layer counts is known.
describe("the emulator's conditional PUTs while faults are injected", () => {
  const key = "runs/conditional/log/00000000";
  const bytes = (text: string) => new TextEncoder().encode(text);

  async function withEmulator(test: (emulator: Emulator, store: S3ResultStore) => Promise<void>) {
    const emulator = await startEmulator();
    const s3 = emulator.s3Client();
    try {
      await emulator.createBucket("records");
      await test(emulator, new S3ResultStore({ bucket: "records", client: s3 }));
    } finally {
      emulator.injectFaults(undefined);
      s3.destroy();
      await emulator.stop();
    }
  }

  // Was: an injected fault on the inner HEAD read as "no such object", so `If-None-Match: *` held and the
  // inner PUT overwrote the object (at rate 0.5: outer PUT passes, HEAD fails, PUT passes, 200). In a run's
  // record that replaced a segment a reader may already have read: its outcomes gone, the flow waiting forever.
  it("never lets a conditional create overwrite an object", async () => {
    await withEmulator(async (emulator, store) => {
      expect(await store.create(key, bytes("first"))).toBe(true);
      emulator.injectFaults({ rate: 0.5 });

      const created = await store.create(key, bytes("second")).catch(() => "refused");

      emulator.injectFaults(undefined);
      expect(created).not.toBe(true);
      expect(new TextDecoder().decode(await store.get(key))).toBe("first");
    });
  });

  // Was: every conditional PUT counted three times against the rate (outer PUT, inner HEAD, inner PUT), and the
  // evenly spread faults fell on the same step of every attempt: at rate 1/3 the inner PUT (requests 3, 6, 9)
  // failed on each of the SDK's 3 attempts and the create threw. That made the record's appends fail, and the
  // fault test above wait out the completion queue's 30 s visibility timeout, in about a third of runs.
  it("fails a conditional create about as often as the rate says", async () => {
    await withEmulator(async (emulator, store) => {
      emulator.injectFaults({ rate: 1 / 3 });

      const created = await store.create(key, bytes("first")).catch((error: Error) => error);

      expect(created).toBe(true);
    });
  });
});
