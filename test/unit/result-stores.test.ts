import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  configureLogging,
  FileResultStore,
  type FlowRunState,
  flow,
  getRunContext,
  InvalidArgumentError,
  jsonSerializer,
  MemoryResultStore,
  ResultNotFoundError,
  readPersistedResult,
  resetLogging,
  task,
} from "squall";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { storeContract } from "../support/store-contract.js";

// Engine log lines are not under test here; keep them off stderr.
beforeEach(() => configureLogging({ write: () => {} }));
afterEach(() => resetLogging());

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bytes = (text: string) => encoder.encode(text);
const text = (value: Uint8Array | undefined) => (value === undefined ? undefined : decoder.decode(value));

/** The value a completed flow run returned; fails the test for any other state. */
function resultOf<R>(state: FlowRunState<R>): R {
  if (state.type !== "COMPLETED") throw new Error(`Expected a completed flow run, got ${state.name}`);
  return state.result;
}

let tempDirs: string[] = [];

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "squall-store-"));
  tempDirs.push(dir);
  return dir;
}

afterEach(async () => {
  await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
  tempDirs = [];
});

storeContract("MemoryResultStore", async () => new MemoryResultStore());
storeContract("FileResultStore", async () => new FileResultStore(await tempDir()));

describe("MemoryResultStore alone", () => {
  it("rejects an invalid key on get and exists, as FileResultStore does", async () => {
    const store = new MemoryResultStore();
    await expect(store.get("../x")).rejects.toThrow(InvalidArgumentError);
    await expect(store.exists("/abs")).rejects.toThrow(InvalidArgumentError);
  });
});

describe("FileResultStore alone", () => {
  it("rejects an invalid key on get and exists", async () => {
    const store = new FileResultStore(await tempDir());
    await expect(store.get("../x")).rejects.toThrow(InvalidArgumentError);
    await expect(store.exists("/abs")).rejects.toThrow(InvalidArgumentError);
  });

  it("gives nothing for a key below a stored key", async () => {
    const store = new FileResultStore(await tempDir());
    await store.put("runs/r1", bytes("a key, not a folder"));

    expect(await store.get("runs/r1/results/t1")).toBeUndefined();
    expect(await store.exists("runs/r1/results/t1")).toBe(false);
  });

  it("lists nothing under a prefix that runs through a stored key", async () => {
    const store = new FileResultStore(await tempDir());
    await store.put("runs/r1", bytes("a key, not a folder"));

    expect(await store.list("runs/r1/")).toEqual([]);
  });

  it("refuses a key beneath a stored key, and the reverse, with a clear error", async () => {
    const dir = await tempDir();
    const store = new FileResultStore(dir);
    await store.put("runs/r1", bytes("run"));
    await store.put("runs/r2/results/t1", bytes("result"));

    await expect(store.put("runs/r1/results/t1", bytes("x"))).rejects.toThrow(
      "Cannot store `runs/r1/results/t1`: FileResultStore cannot hold both a key and keys beneath it",
    );
    await expect(store.create("runs/r1/results/t1", bytes("x"))).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(store.put("runs/r2", bytes("x"))).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(store.create("runs/r2", bytes("x"))).rejects.toBeInstanceOf(InvalidArgumentError);

    expect(await store.list("")).toEqual(["runs/r1", "runs/r2/results/t1"]);
    expect(text(await store.get("runs/r1"))).toBe("run");
  });

  it("lets exactly one of many concurrent creates on one key win", async () => {
    const store = new FileResultStore(await tempDir());

    const outcomes = await Promise.all(
      Array.from({ length: 25 }, (_, i) => store.create("locks/leader", bytes(`writer ${i}`))),
    );

    expect(outcomes.filter((won) => won)).toEqual([true]);
    const winner = outcomes.indexOf(true);
    expect(text(await store.get("locks/leader"))).toBe(`writer ${winner}`);
    expect(await store.list("")).toEqual(["locks/leader"]);
  });

  it("keeps values for another instance on the same folder", async () => {
    const dir = await tempDir();
    const first = new FileResultStore(dir);
    await first.put("runs/r1/results/t1", bytes("kept"));
    await first.create("locks/once", bytes("first"));

    const second = new FileResultStore(dir);

    expect(text(await second.get("runs/r1/results/t1"))).toBe("kept");
    expect(await second.exists("runs/r1/results/t1")).toBe(true);
    expect(await second.list("")).toEqual(["locks/once", "runs/r1/results/t1"]);
    expect(await second.create("locks/once", bytes("second"))).toBe(false);
    expect(text(await second.get("locks/once"))).toBe("first");
  });

  it("lists nothing and gets nothing in a folder that does not exist yet", async () => {
    const store = new FileResultStore(join(await tempDir(), "not", "yet"));

    expect(await store.list("")).toEqual([]);
    expect(await store.get("a")).toBeUndefined();
    expect(await store.exists("a")).toBe(false);
  });

  it("rejects an empty folder path", () => {
    expect(() => new FileResultStore("")).toThrow(
      new InvalidArgumentError("Expected `root` to be a folder path, got ``"),
    );
  });
});

describe("persistResult", () => {
  it("stores a task's result where readPersistedResult finds it", async () => {
    const store = new MemoryResultStore();
    const summarize = task(
      { persistResult: true, resultStorage: store },
      function summarize(words: string[]) {
        return { count: words.length, first: words[0] ?? null };
      },
    );
    const report = flow(async function report() {
      const future = summarize.submit(["a", "b", "c"]);
      await future.result();
      return future.taskRunId;
    });

    const state = await report.run();

    expect(state.type).toBe("COMPLETED");
    const taskRunId = resultOf(state);
    const flowRunId = state.flowRun.id;
    expect(await readPersistedResult(store, { flowRunId, taskRunId })).toEqual({ count: 3, first: "a" });
    expect(await store.list(`runs/${flowRunId}/`)).toEqual([`runs/${flowRunId}/results/${taskRunId}`]);
  });

  it("can be read back inside the flow, with the ids from getRunContext", async () => {
    const dir = await tempDir();
    const store = new FileResultStore(dir);
    const cube = task({ persistResult: true, resultStorage: store }, function cube(x: number) {
      return { x, cube: x ** 3, taskRunId: getRunContext().taskRun?.id };
    });
    const cubes = flow(async function cubes() {
      const { flowRun } = getRunContext();
      const value = await cube(3);
      const read = await readPersistedResult(store, {
        flowRunId: flowRun.id,
        taskRunId: value.taskRunId ?? "",
      });
      return { value, read, keys: await store.list(`runs/${flowRun.id}/`), flowRunId: flowRun.id };
    });

    const { value, read, keys, flowRunId } = await cubes();

    expect(read).toEqual(value);
    expect(value).toMatchObject({ x: 3, cube: 27 });
    expect(keys).toEqual([`runs/${flowRunId}/results/${value.taskRunId}`]);
    // The file outlives the store instance.
    expect(
      await readPersistedResult(new FileResultStore(dir), { flowRunId, taskRunId: value.taskRunId ?? "" }),
    ).toEqual(value);
  });

  it("keeps every run of a flow under runs/<flowRunId>/ and apart from other flow runs", async () => {
    const store = new MemoryResultStore();
    const label = task({ persistResult: true, resultStorage: store }, function label(n: number) {
      return `item ${n}`;
    });
    const labels = flow(async function labels() {
      const futures = label.map([1, 2, 3]);
      await futures.result();
      return futures.map((future) => future.taskRunId);
    });

    const first = await labels.run();
    const second = await labels.run();

    for (const state of [first, second]) {
      const ids = resultOf(state);
      const flowRunId = state.flowRun.id;
      expect(await store.list(`runs/${flowRunId}/`)).toEqual(
        ids.map((id) => `runs/${flowRunId}/results/${id}`).sort(),
      );
      const read = await Promise.all(
        ids.map((taskRunId) => readPersistedResult(store, { flowRunId, taskRunId })),
      );
      expect(read).toEqual(["item 1", "item 2", "item 3"]);
    }
    expect(first.flowRun.id).not.toBe(second.flowRun.id);
    expect(await store.list("runs/")).toHaveLength(6);
  });

  it("is off by default: nothing is stored", async () => {
    const store = new MemoryResultStore();
    const notPersisted = task({ resultStorage: store }, function notPersisted() {
      return 1;
    });
    const state = await flow(async function nothingStored() {
      const future = notPersisted.submit();
      await future.result();
      return future.taskRunId;
    }).run();

    expect(await store.list("")).toEqual([]);
    await expect(
      readPersistedResult(store, {
        flowRunId: state.flowRun.id,
        taskRunId: resultOf(state),
      }),
    ).rejects.toThrow(ResultNotFoundError);
  });

  it("applies a flow's persistResult and resultStorage to its tasks", async () => {
    const store = new MemoryResultStore();
    const greet = task(function greet(name: string) {
      return `hello ${name}`;
    });
    const optedOut = task({ persistResult: false }, function optedOut() {
      return "not stored";
    });
    const greetings = flow({ persistResult: true, resultStorage: store }, async function greetings() {
      const futures = [greet.submit("ada"), greet.submit("alan"), optedOut.submit()];
      await Promise.all(futures.map((future) => future.result()));
      return futures.map((future) => future.taskRunId);
    });

    const state = await greetings.run();

    const [ada, alan, opted] = resultOf(state);
    const flowRunId = state.flowRun.id;
    expect(await readPersistedResult(store, { flowRunId, taskRunId: ada ?? "" })).toBe("hello ada");
    expect(await readPersistedResult(store, { flowRunId, taskRunId: alan ?? "" })).toBe("hello alan");
    await expect(readPersistedResult(store, { flowRunId, taskRunId: opted ?? "" })).rejects.toThrow(
      ResultNotFoundError,
    );
    expect(await store.list(`runs/${flowRunId}/`)).toHaveLength(2);
  });

  it("lets a task's own resultStorage win over the flow's", async () => {
    const flowStore = new MemoryResultStore();
    const taskStore = new MemoryResultStore();
    const ownStore = task({ resultStorage: taskStore }, function ownStore() {
      return "mine";
    });
    const state = await flow({ persistResult: true, resultStorage: flowStore }, async function storesFlow() {
      const future = ownStore.submit();
      await future.result();
      return future.taskRunId;
    }).run();

    const address = { flowRunId: state.flowRun.id, taskRunId: resultOf(state) };
    expect(await readPersistedResult(taskStore, address)).toBe("mine");
    expect(await flowStore.list("")).toEqual([]);
  });

  it("throws ResultNotFoundError naming the key when nothing was persisted", async () => {
    const store = new MemoryResultStore();

    await expect(readPersistedResult(store, { flowRunId: "f1", taskRunId: "t1" })).rejects.toThrow(
      new ResultNotFoundError(
        "No persisted result at `runs/f1/results/t1`: was the task run with `persistResult: true`?",
      ),
    );
  });

  it("works for a task that returns undefined", async () => {
    const store = new MemoryResultStore();
    const sideEffect = task({ persistResult: true, resultStorage: store }, function sideEffect() {
      return undefined;
    });
    const state = await flow(async function sideEffects() {
      const future = sideEffect.submit();
      return { value: await future.result(), name: future.state.name, taskRunId: future.taskRunId };
    }).run();

    const { value, name, taskRunId } = resultOf(state);
    expect(value).toBeUndefined();
    expect(name).toBe("Completed");
    const flowRunId = state.flowRun.id;
    expect(await store.list(`runs/${flowRunId}/`)).toEqual([`runs/${flowRunId}/results/${taskRunId}`]);
    expect(await readPersistedResult(store, { flowRunId, taskRunId })).toBeUndefined();
  });

  class Money {
    constructor(readonly cents: number) {}
  }

  it.each<{ what: string; value: () => unknown; message: string }>([
    { what: "a function", value: () => () => 1, message: "Cannot serialize result: it is a function" },
    { what: "a symbol", value: () => Symbol("s"), message: "Cannot serialize result: it is a symbol" },
    {
      what: "a class instance",
      value: () => new Money(5),
      message: "Cannot serialize result: it is a Money instance",
    },
    {
      what: "a function nested in an object",
      value: () => ({ totals: [1, function total() {}] }),
      message: "Cannot serialize result.totals[1]: it is the function `total`",
    },
  ])("fails the run when the result holds $what, naming the problem", async ({ what, value, message }) => {
    const store = new MemoryResultStore();
    let calls = 0;
    const unstorable = task(
      { name: `unstorable ${what}`, persistResult: true, resultStorage: store },
      function unstorable() {
        calls += 1;
        return value();
      },
    );
    const state = await flow(async function unstorableFlow() {
      await unstorable();
    }).run();

    expect(state.type).toBe("FAILED");
    const error = "error" in state ? state.error : undefined;
    expect(error?.message).toBe(
      `Could not store the result of task run 'unstorable ${what}-0': ${message}, which cannot cross to another process. Pass plain data (objects, arrays, strings, numbers, Dates, Maps, Sets, BigInts, typed arrays, Errors), or give the task a serializer that carries it.`,
    );
    expect(error?.cause).toBeInstanceOf(InvalidArgumentError);
    expect(calls).toBe(1);
    expect(await store.list("")).toEqual([]);
  });

  it("stores Dates, Maps, Sets and BigInts with the default serializer", async () => {
    const store = new MemoryResultStore();
    const rich = task({ persistResult: true, resultStorage: store }, function rich() {
      return { at: new Date(0), seen: new Set([1, 2]), index: new Map([["a", 1n]]) };
    });
    const state = await flow(async function richFlow() {
      return (await rich.submit().wait()) && getRunContext().flowRun.id;
    }).run();
    if (state.type !== "COMPLETED") throw new Error(`expected COMPLETED, got ${state.type}`);
    const [key] = await store.list(`runs/${state.result}/`);
    const taskRunId = (key as string).split("/").pop() as string;

    expect(await readPersistedResult(store, { flowRunId: state.result as string, taskRunId })).toEqual({
      at: new Date(0),
      seen: new Set([1, 2]),
      index: new Map([["a", 1n]]),
    });
  });

  it("rejects a BigInt under jsonSerializer, naming where it sits", async () => {
    const store = new MemoryResultStore();
    const bigJson = task(
      { persistResult: true, resultStorage: store, serializer: jsonSerializer },
      function bigJson() {
        return { totals: [1, 2n] };
      },
    );
    const state = await flow(async function bigJsonFlow() {
      await bigJson();
    }).run();

    expect("error" in state && state.error.message).toMatch(
      /Cannot serialize result\.totals\[1\]: it is the BigInt 2n/,
    );
  });
});
