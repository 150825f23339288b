import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { isMainThread, threadId } from "node:worker_threads";
import {
  CancelledError,
  CrashedError,
  configureLogging,
  type FlowRunState,
  flow,
  getRunContext,
  InvalidArgumentError,
  MemoryResultStore,
  readPersistedResult,
  resetLogging,
  SerializationError,
  type TaskFuture,
  type TaskRunInfo,
  TaskTimeoutError,
  ThreadPoolTaskRunner,
} from "squall";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import {
  addTen,
  advance,
  chatter,
  dateViaMarked,
  exhaustMemory,
  exitWith,
  failOnFirstAttempt,
  markedJson,
  OverdraftError,
  overdraw,
  recordStart,
  sleepThenSquare,
  square,
  threadInfo,
  throwLater,
  useClient,
} from "../fixtures/pool-tasks.js";

// Engine log lines are not under test unless a test says so; keep them off stderr.
beforeEach(() => configureLogging({ write: () => {} }));
afterEach(() => resetLogging());

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "squall-threads-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The lines a fixture task appended to `file` (threads share no memory with the test). */
function linesOf(file: string): string[] {
  return existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean) : [];
}

/** Waits until a thread has appended `line` to `file`. */
async function untilLine(file: string, line: string): Promise<void> {
  for (let waited = 0; waited < 10_000; waited += 10) {
    if (linesOf(file).includes(line)) return;
    await sleep(10);
  }
  throw new Error(`No line '${line}' in ${file} after 10 s: ${JSON.stringify(linesOf(file))}`);
}

/** The value a completed flow run returned; fails the test for any other state. */
function resultOf<R>(state: FlowRunState<R>): R {
  if (state.type !== "COMPLETED") {
    throw new Error(`Expected a completed flow run, got ${state.name}: ${String(state.error)}`);
  }
  return state.result;
}

/** Run info (attempts, ...) that a future carries at runtime. */
const infoOf = (future: TaskFuture<unknown>) => future as unknown as TaskRunInfo;

class Client {
  query() {
    return "rows";
  }
}

describe("ThreadPoolTaskRunner runs submitted tasks in worker threads", () => {
  const runner = new ThreadPoolTaskRunner({ maxWorkers: 2 });

  it("runs submitted tasks off the main thread, on both threads, and direct calls on the caller's thread", async () => {
    const where = flow({ taskRunner: runner }, async function where() {
      const direct = await threadInfo(0);
      const submitted = await threadInfo.map([20, 20, 20, 20, 20, 20, 20, 20]).result();
      return { direct, submitted };
    });

    const { direct, submitted } = await where();

    expect(direct).toEqual({ isMainThread, threadId });
    expect(submitted).toHaveLength(8);
    for (const info of submitted) {
      expect(info.isMainThread).toBe(false);
      expect(info.threadId).not.toBe(threadId);
    }
    expect(new Set(submitted.map((info) => info.threadId)).size).toBe(2);
  });

  it("gives map results in input order, whatever order the threads finish in", async () => {
    const ordered = flow({ taskRunner: runner }, async function ordered() {
      return sleepThenSquare.map([1, 2, 3, 4, 5, 6], [60, 10, 50, 5, 30, 0]).result();
    });

    expect(await ordered()).toEqual([1, 4, 9, 16, 25, 36]);
  });

  it("carries arguments and results that need the default serializer, intact", async () => {
    const rich = flow({ taskRunner: runner }, async function rich() {
      return advance
        .submit({
          at: new Date("2024-01-31T10:00:00.000Z"),
          counts: new Map([
            ["apples", 1],
            ["pears", 2],
          ]),
          big: 2n ** 70n,
          bytes: Buffer.from("abc"),
        })
        .result();
    });

    const out = await rich();

    expect(out.received).toEqual({ at: true, counts: true, big: "bigint", bytes: true });
    expect(out.at).toBeInstanceOf(Date);
    expect(out.at.toISOString()).toBe("2024-02-01T10:00:00.000Z");
    expect(out.counts).toBeInstanceOf(Map);
    expect([...out.counts]).toEqual([
      ["apples", 10],
      ["pears", 20],
    ]);
    expect(out.big).toBe(2n ** 71n);
    expect(Buffer.isBuffer(out.bytes)).toBe(true);
    expect(out.bytes.toString()).toBe("abc!");
  });

  it("uses a task's own serializer, defined in its module, for the thread and the store", async () => {
    const store = new MemoryResultStore();
    const marked = flow(
      { taskRunner: runner, persistResult: true, resultStorage: store },
      async function markedInThreads() {
        const future = dateViaMarked.submit("2024-05-01T00:00:00.000Z");
        return {
          value: await future.result(),
          key: `runs/${getRunContext().flowRun.id}/results/${future.taskRunId}`,
        };
      },
    );

    const { value, key } = await marked();

    // JSON carried the Date: it arrives as its ISO string.
    expect(value).toBe("2024-05-01T00:00:00.000Z");
    expect(new TextDecoder().decode(await store.get(key))).toBe('MARKED:"2024-05-01T00:00:00.000Z"');
  });

  it("fails a run whose flow serializer the threads do not know, saying to set it on the task", async () => {
    let future: TaskFuture<number> | undefined;
    const unknown = flow(
      { taskRunner: runner, serializer: { ...markedJson, name: "flowOnly" } },
      async function unknownToThreads() {
        future = square.submit(3);
        return future.result({ raiseOnFailure: false });
      },
    );

    const error = await unknown();

    expect(future?.state.name).toBe("Failed");
    expect((error as Error).message).toBe(
      "The worker does not know the serializer 'flowOnly': set it on task 'square' itself, so the worker has it too.",
    );
  });

  it("rejects at .submit() an argument that cannot cross, naming its path, and the flow goes on", async () => {
    const caught: unknown[] = [];
    const rejecting = flow({ taskRunner: runner }, async function rejecting() {
      try {
        useClient.submit({ client: new Client() });
      } catch (error) {
        caught.push(error);
      }
      try {
        useClient.submit({ client: [() => "rows"][0] });
      } catch (error) {
        caught.push(error);
      }
      return useClient.submit({ client: "a connection string" }).result();
    });

    const state = await rejecting.run();

    expect(resultOf(state)).toBe("string");
    expect(caught).toHaveLength(2);
    const [instance, fn] = caught as SerializationError[];
    expect(instance).toBeInstanceOf(SerializationError);
    expect(instance?.path).toBe("args[0].client");
    expect(instance?.message).toMatch(
      /^Cannot serialize args\[0\]\.client: it is a Client instance, which cannot cross to another process\./,
    );
    expect(fn).toBeInstanceOf(SerializationError);
    expect(fn?.path).toBe("args[0].client");
    expect(fn?.message).toMatch(
      /^Cannot serialize args\[0\]\.client: it is a function, which cannot cross to another process\./,
    );
  });

  it("fails the flow with the SerializationError when the flow does not catch it", async () => {
    const uncaught = flow({ taskRunner: runner }, function uncaught() {
      useClient.submit({ client: new Client() });
    });

    const state = await uncaught.run();

    expect(state.name).toBe("Failed");
    expect(state.type === "FAILED" && state.error).toBeInstanceOf(SerializationError);
    expect(state.type === "FAILED" && (state.error as SerializationError).path).toBe("args[0].client");
  });

  it("passes an upstream future's result, nested in an object, to a thread task", async () => {
    const chained = flow({ taskRunner: runner }, async function chained() {
      const squared = square.submit(4);
      return addTen.submit({ value: squared }).result();
    });

    expect(await chained()).toBe(26);
  });

  it("brings back an exported Error class thrown in a thread as that class, with its fields, through result()", async () => {
    let future: TaskFuture<never> | undefined;
    const overdrawn = flow({ taskRunner: runner }, async function overdrawn() {
      future = overdraw.submit("acc-17", 250n);
      try {
        await future.result();
      } catch (error) {
        return error;
      }
      return "no error";
    });

    const error = (await overdrawn()) as OverdraftError & { taskRunName?: string };

    expect(error).toBeInstanceOf(OverdraftError);
    expect(error.name).toBe("OverdraftError");
    expect(error.message).toBe("account acc-17 is short by 250");
    expect(error.account).toBe("acc-17");
    expect(error.shortBy).toBe(250n);
    expect(error.cause).toBeInstanceOf(RangeError);
    expect((error.cause as Error).message).toBe("balance below zero");
    expect(error.stack).toContain("pool-tasks.ts");
    expect(error.taskRunName).toBe("overdraw-0");
    const state = future?.state;
    expect(state?.name).toBe("Failed");
    expect(state?.type === "FAILED" && state.error).toBe(error);
  });

  it("re-runs a failing task in a thread on retry until it completes", async () => {
    const lines: string[] = [];
    configureLogging({ write: (line) => lines.push(line.trimEnd()) });
    const futures: TaskFuture<string>[] = [];
    const flaky = flow({ taskRunner: runner }, async function flaky() {
      const retried = failOnFirstAttempt.withOptions({ retries: 1, retryDelaySeconds: 0 }).submit("retried");
      const once = failOnFirstAttempt.submit("once");
      futures.push(retried, once);
      return [await retried.result(), await once.result({ raiseOnFailure: false })];
    });

    const [retried, once] = await flaky();

    expect(retried).toBe("retried: attempt 2 succeeds");
    expect(once).toBeInstanceOf(Error);
    expect((once as Error).message).toBe("once: attempt 1 fails");
    expect(futures[0]?.state.name).toBe("Completed");
    expect(infoOf(futures[0] as TaskFuture<string>).attempts).toBe(2);
    expect(futures[1]?.state.name).toBe("Failed");
    expect(infoOf(futures[1] as TaskFuture<string>).attempts).toBe(1);
    expect(lines.filter((line) => line.includes("Attempt 1 failed"))).toEqual([
      expect.stringMatching(
        /\| INFO {5}\| Task run 'failOnFirstAttempt-0' - Attempt 1 failed with Error: retried: attempt 1 fails\. Retry 1\/1 starts in 0 s\.$/,
      ),
    ]);
  });

  it("stores a persisted result in the caller's store", async () => {
    const store = new MemoryResultStore();
    const persisted = flow(
      { taskRunner: runner, persistResult: true, resultStorage: store },
      async function persistedInThreads() {
        const future = square.submit(9);
        return {
          value: await future.result(),
          flowRunId: getRunContext().flowRun.id,
          taskRunId: future.taskRunId,
        };
      },
    );

    const { value, flowRunId, taskRunId } = await persisted();

    expect(value).toBe(81);
    expect(await store.list(`runs/${flowRunId}/`)).toEqual([`runs/${flowRunId}/results/${taskRunId}`]);
    expect(await readPersistedResult(store, { flowRunId, taskRunId })).toBe(81);
  });

  it("serves two flows at once from one pool of maxWorkers threads", async () => {
    const first = flow({ taskRunner: runner }, async function firstOfTwo() {
      return threadInfo.map([20, 20, 20, 20]).result();
    });
    const second = flow({ taskRunner: runner }, async function secondOfTwo() {
      const infos = await threadInfo.map([20, 20, 20, 20]).result();
      const sum = await addTen.submit({ value: square.submit(5) }).result();
      return { infos, sum };
    });

    const [a, b] = await Promise.all([first(), second()]);

    expect(a).toHaveLength(4);
    expect(b.infos).toHaveLength(4);
    expect(b.sum).toBe(35);
    const threads = new Set([...a, ...b.infos].map((info) => info.threadId));
    expect(threads.size).toBe(2);
    expect(threads.has(threadId)).toBe(false);
  });
});

describe("crashes, timeouts and cancellation", () => {
  // One thread: a run after a crash or a stop needs the thread that replaced it.
  const single = new ThreadPoolTaskRunner({ maxWorkers: 1 });
  const smallHeap = new ThreadPoolTaskRunner({ maxWorkers: 1, maxWorkerMemoryMb: 32 });

  it.each([
    {
      kind: "an uncaught error thrown from a timer",
      runner: single,
      crash: () => throwLater.submit("thrown from a timer"),
      message:
        "Task run 'throwLater-0' crashed: the worker thread threw an uncaught TypeError: thrown from a timer.",
    },
    {
      kind: "process.exit(3)",
      runner: single,
      crash: () => exitWith.submit(3),
      message: "Task run 'exitWith-0' crashed: the worker thread exited with code 3.",
    },
    {
      kind: "running out of memory",
      runner: smallHeap,
      crash: () => exhaustMemory.submit(),
      message:
        "Task run 'exhaustMemory-0' crashed: the worker thread ran out of memory (its limit is 32 MB).",
    },
  ])(
    "ends the run Crashed on $kind, and the flow goes on with a new thread",
    async ({ runner, crash, message }) => {
      const crashing = flow({ taskRunner: runner }, async function crashing() {
        const crashed = crash();
        const error = await crashed.result({ raiseOnFailure: false });
        const after = await square.submit(5).result();
        return { state: crashed.state, error, after };
      });

      const { state, error, after } = resultOf(await crashing.run());

      expect(state.type).toBe("CRASHED");
      expect(state.name).toBe("Crashed");
      expect(error).toBeInstanceOf(CrashedError);
      expect((error as Error).message).toBe(message);
      expect(after).toBe(25);
    },
  );

  it("stops a CPU-spinning task at its timeout; later tasks in the flow still complete", async () => {
    const file = join(dir, "timeout.log");
    const timed = flow({ taskRunner: single }, async function timed() {
      await square.submit(1).result(); // the thread is up
      const runaway = recordStart.withOptions({ timeoutSeconds: 0.2 }).submit(file, "runaway", 3_000);
      const later = square.submit(6);
      const error = await runaway.result({ raiseOnFailure: false });
      const laterValue = await later.result();
      return { state: runaway.state, error, laterValue, lines: linesOf(file) };
    });

    const { state, error, laterValue, lines } = await timed();

    expect(state.name).toBe("TimedOut");
    expect(state.type).toBe("FAILED");
    expect(error).toBeInstanceOf(TaskTimeoutError);
    expect((error as Error).message).toBe("Task run 'recordStart-0' exceeded its timeout of 0.2 seconds.");
    expect(laterValue).toBe(36);
    expect(lines).not.toContain("done runaway");
  });

  it("cancelling the flow stops its running task and never starts its queued ones", async () => {
    const file = join(dir, "cancel.log");
    const controller = new AbortController();
    const futures: TaskFuture<string>[] = [];
    const cancellable = flow({ taskRunner: single, signal: controller.signal }, function cancellable() {
      futures.push(recordStart.submit(file, "running", 3_000));
      futures.push(...recordStart.map(file, ["queued-1", "queued-2"], 0));
    });

    const outcome = cancellable.run();
    await untilLine(file, "start running");
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
      "Task run 'recordStart-0' was cancelled: user pressed stop",
      "Task run 'recordStart-1' was cancelled: user pressed stop",
      "Task run 'recordStart-2' was cancelled: user pressed stop",
    ]);
    expect(linesOf(file)).toEqual(["start running"]);
  });

  it("never starts a cancelled flow's runs queued on a thread busy with another flow's run", async () => {
    const file = join(dir, "shared-cancel.log");
    const controller = new AbortController();
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const busyFlow = flow({ taskRunner: single }, async function busyFlow() {
      const first = recordStart.submit(file, "b1", 1_000);
      await released;
      const second = recordStart.submit(file, "b2", 0);
      return [await first.result(), await second.result()];
    });
    const cancelledFlow = flow({ taskRunner: single, signal: controller.signal }, function cancelledFlow() {
      recordStart.map(file, ["a1", "a2"], 0);
    });

    const busyDone = busyFlow();
    await untilLine(file, "start b1");
    const cancelledDone = cancelledFlow.run();
    await sleep(20); // its runs are on their way to the busy thread
    controller.abort(new Error("not needed"));
    expect((await cancelledDone).name).toBe("Cancelled");
    release();

    expect(await busyDone).toEqual(["b1", "b2"]);
    expect(linesOf(file)).toEqual(["start b1", "done b1", "start b2", "done b2"]);
  });

  it("counts a task's timeout from when a thread starts it, not while it waits for one", async () => {
    const queuedBehind = flow({ taskRunner: single }, async function queuedBehind() {
      await square.submit(1).result(); // the thread is up
      const first = threadInfo.submit(600);
      const quick = square.withOptions({ timeoutSeconds: 0.3 }).submit(7);
      await first.result();
      return quick.result();
    });

    expect(await queuedBehind()).toBe(49);
  });
  it("does not count the threads' start-up against the first task's timeout", async () => {
    const fresh = new ThreadPoolTaskRunner({ maxWorkers: 1 });
    const firstRun = flow({ taskRunner: fresh }, async function firstRunTimed() {
      return square.withOptions({ timeoutSeconds: 0.1 }).submit(8).result();
    });

    expect(await firstRun()).toBe(64);
  });
});

describe("a thread holding several runs", () => {
  const single = new ThreadPoolTaskRunner({ maxWorkers: 1 });

  it("delivers a run's result when it finishes, not after the runs queued behind it", async () => {
    const file = join(dir, "held.log");
    const held = flow({ taskRunner: single }, async function held() {
      await square.submit(1).result(); // the thread is up
      const fast = recordStart.submit(file, "fast", 0);
      const slow = recordStart.submit(file, "slow", 800);
      await fast.result();
      const seenAtFastResult = linesOf(file);
      await slow.result();
      return seenAtFastResult;
    });

    expect(await held()).not.toContain("done slow");
  });
});

describe("output from threads", () => {
  const runner = new ThreadPoolTaskRunner({ maxWorkers: 2 });

  it("writes console output to the caller's stdout, and run-logger and logPrints lines to its logging", async () => {
    const lines: string[] = [];
    configureLogging({ write: (line) => lines.push(line.trimEnd()) });
    const written: string[] = [];
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    const chatty = flow({ taskRunner: runner }, async function chatty() {
      await chatter.submit("arthur").result();
      await chatter.withOptions({ logPrints: true }).submit("ford").result();
    });
    try {
      await chatty();
    } finally {
      spy.mockRestore();
    }

    expect(written.filter((text) => text.includes("hello"))).toEqual(["hello arthur\n"]);
    const taskLines = lines.filter((line) => line.includes("Task run 'chatter-"));
    expect(taskLines).toHaveLength(3);
    expect(taskLines[0]).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} \| INFO {5}\| Task run 'chatter-0' - logged for arthur$/,
    );
    expect(taskLines[1]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} \| INFO {5}\| Task run 'chatter-1' - hello ford$/);
    expect(taskLines[2]).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} \| INFO {5}\| Task run 'chatter-1' - logged for ford$/,
    );
  });
});

describe("ThreadPoolTaskRunner options", () => {
  it("defaults to one thread per core and a 4096 MB heap per thread", () => {
    const runner = new ThreadPoolTaskRunner();

    expect(runner.name).toBe("threads");
    expect(runner.maxWorkers).toBe(availableParallelism());
    expect(runner.maxWorkerMemoryMb).toBe(4096);
  });

  it.each([
    [{ maxWorkers: 0 }, "Expected `maxWorkers` to be an integer >= 1, got `0`"],
    [{ maxWorkers: 1.5 }, "Expected `maxWorkers` to be an integer >= 1, got `1.5`"],
    [{ maxWorkers: Number.NaN }, "Expected `maxWorkers` to be an integer >= 1, got `NaN`"],
    [{ maxWorkerMemoryMb: 8 }, "Expected `maxWorkerMemoryMb` to be an integer >= 16, got `8`"],
    [{ maxWorkerMemoryMb: 64.5 }, "Expected `maxWorkerMemoryMb` to be an integer >= 16, got `64.5`"],
  ])("rejects %o", (options, message) => {
    let error: unknown;
    try {
      new ThreadPoolTaskRunner(options);
    } catch (thrown) {
      error = thrown;
    }

    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toBe(message);
  });
});
