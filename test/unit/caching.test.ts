import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CacheKeyError,
  cachePolicies,
  configureLogging,
  FileResultStore,
  flow,
  InvalidArgumentError,
  MemoryResultStore,
  readPersistedResult,
  resetLogging,
  type State,
  type TaskRunInfo,
  task,
} from "squall";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { sleep } from "../support/async.js";

// Engine log lines are not under test here; keep them off stderr.
beforeEach(() => configureLogging({ write: () => {} }));
afterEach(() => resetLogging());

/** Submits `t` once per argument list, one run after another, in one flow run; gives each run's final state. */
function runInOneFlow<A extends unknown[], R>(
  t: { submit(...args: A): { wait(): Promise<State<R>> } },
  ...argLists: A[]
): Promise<State<R>[]> {
  return flow(async function oneFlow() {
    const states: State<R>[] = [];
    for (const args of argLists) states.push(await t.submit(...args).wait());
    return states;
  })();
}

function names(states: readonly State<unknown>[]): string[] {
  return states.map((state) => state.name);
}

function results(states: readonly State<unknown>[]): unknown[] {
  return states.map((state) => {
    if ("result" in state) return state.result;
    return "error" in state ? state.error : undefined;
  });
}

describe("caching is off by default", () => {
  it("runs a task called twice with the same arguments twice", async () => {
    const calls: number[] = [];
    const uncached = task(function uncached(x: number) {
      calls.push(x);
      return calls.length;
    });

    const states = await runInOneFlow(uncached, [7], [7]);

    expect(names(states)).toEqual(["Completed", "Completed"]);
    expect(results(states)).toEqual([1, 2]);
    expect(calls).toEqual([7, 7]);
  });

  it("does not cache a task with a policy when it is called outside a flow (a plain call)", async () => {
    let calls = 0;
    const plainOutside = task({ cachePolicy: cachePolicies.inputs }, function plainOutside(x: number) {
      calls += 1;
      return x * calls;
    });

    expect(await plainOutside(3)).toBe(3);
    expect(await plainOutside(3)).toBe(6);
    expect(calls).toBe(2);
  });
});

describe("cachePolicies.inputs", () => {
  it("gives a second run with equal arguments the first result, in state Cached, without running it", async () => {
    const calls: unknown[] = [];
    const priceOf = task(
      { cachePolicy: cachePolicies.inputs },
      function priceOf(order: { sku: string; qty: number; extras: { gift: boolean; note: string } }) {
        calls.push(order);
        return { total: order.qty * 10, call: calls.length };
      },
    );

    const states = await runInOneFlow(
      priceOf,
      [{ sku: "a", qty: 2, extras: { gift: true, note: "hi" } }],
      [{ extras: { note: "hi", gift: true }, qty: 2, sku: "a" }],
    );

    expect(names(states)).toEqual(["Completed", "Cached"]);
    expect(states[1]?.type).toBe("COMPLETED");
    expect(results(states)).toEqual([
      { total: 20, call: 1 },
      { total: 20, call: 1 },
    ]);
    expect(calls).toHaveLength(1);
  });

  it("runs again when the arguments differ", async () => {
    const calls: unknown[] = [];
    const squareOf = task({ cachePolicy: cachePolicies.inputs }, function squareOf(x: number, label: string) {
      calls.push([x, label]);
      return `${label}:${x * x}`;
    });

    const states = await runInOneFlow(squareOf, [2, "a"], [3, "a"], [2, "b"], [2, "a"], ["2" as never, "a"]);

    expect(names(states)).toEqual(["Completed", "Completed", "Completed", "Cached", "Completed"]);
    expect(results(states)).toEqual(["a:4", "a:9", "b:4", "a:4", "a:4"]);
    expect(calls).toEqual([
      [2, "a"],
      [3, "a"],
      [2, "b"],
      ["2", "a"],
    ]);
  });

  it("hits across direct calls and submitted runs, and across flow runs sharing a store", async () => {
    let calls = 0;
    const sumOf = task({ cachePolicy: cachePolicies.inputs }, function sumOf(xs: number[]) {
      calls += 1;
      return xs.reduce((a, b) => a + b, 0);
    });
    const sums = flow(async function sums() {
      const direct = await sumOf([1, 2, 3]);
      const submitted = sumOf.submit([1, 2, 3]);
      return { direct, submitted: await submitted.result(), state: submitted.state.name };
    });

    expect(await sums()).toEqual({ direct: 6, submitted: 6, state: "Cached" });
    expect(await sums()).toEqual({ direct: 6, submitted: 6, state: "Cached" });
    expect(calls).toBe(1);
  });

  it("does not share a cache entry between two tasks called with equal arguments", async () => {
    const calls: string[] = [];
    const left = task({ cachePolicy: cachePolicies.inputs }, function leftSide(x: number) {
      calls.push("left");
      return `left ${x}`;
    });
    const right = task({ cachePolicy: cachePolicies.inputs }, function rightSide(x: number) {
      calls.push("right");
      return `right ${x}`;
    });
    const both = flow(async function both() {
      return [await left(1), await right(1), await left(1), await right(1)];
    });

    expect(await both()).toEqual(["left 1", "right 1", "left 1", "right 1"]);
    expect(calls).toEqual(["left", "right"]);
  });

  it("resolves futures passed as arguments before computing the key", async () => {
    let calls = 0;
    const makeTen = task(function makeTen() {
      return 10;
    });
    const halve = task({ cachePolicy: cachePolicies.inputs }, function halve(x: number) {
      calls += 1;
      return x / 2;
    });
    const halves = flow(async function halves() {
      const first = halve.submit(makeTen.submit());
      await first.wait();
      const second = halve.submit(10);
      return [await first.result(), await second.result(), second.state.name];
    });

    expect(await halves()).toEqual([5, 5, "Cached"]);
    expect(calls).toBe(1);
  });
});

describe("cachePolicies.taskSource and .plus()", () => {
  it("taskSource alone shares one result between runs whatever their arguments", async () => {
    const calls: number[] = [];
    const firstSeen = task({ cachePolicy: cachePolicies.taskSource }, function firstSeen(x: number) {
      calls.push(x);
      return x;
    });

    const states = await runInOneFlow(firstSeen, [1], [2], [3]);

    expect(names(states)).toEqual(["Completed", "Cached", "Cached"]);
    expect(results(states)).toEqual([1, 1, 1]);
    expect(calls).toEqual([1]);
  });

  it("inputs.plus(taskSource) caches equal arguments and runs different ones", async () => {
    const calls: number[] = [];
    const tripled = task(
      { cachePolicy: cachePolicies.inputs.plus(cachePolicies.taskSource) },
      function tripled(x: number) {
        calls.push(x);
        return 3 * x;
      },
    );

    const states = await runInOneFlow(tripled, [1], [2], [1], [2]);

    expect(names(states)).toEqual(["Completed", "Completed", "Cached", "Cached"]);
    expect(results(states)).toEqual([3, 6, 3, 6]);
    expect(calls).toEqual([1, 2]);
  });

  describe("when the task's source is edited (a new process, same store)", () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), "squall-cache-source-"));
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
      vi.resetModules();
    });

    /** Loads a fresh copy of squall (a fresh task registry, as in a new process) and runs `fn` as task `pricing`. */
    async function runFreshPricing(fn: (x: number) => string): Promise<State<string>> {
      vi.resetModules();
      const fresh = await import("squall");
      fresh.configureLogging({ write: () => {} });
      const pricing = fresh.task(
        {
          name: "pricing",
          cachePolicy: fresh.cachePolicies.inputs.plus(fresh.cachePolicies.taskSource),
          resultStorage: new fresh.FileResultStore(dir),
        },
        fn,
      );
      return fresh.flow(async function pricingFlow() {
        return pricing.submit(5).wait();
      })();
    }

    it("hits with the same source and misses after the source changes", async () => {
      const first = await runFreshPricing((x) => `v1 ${x}`);
      const same = await runFreshPricing((x) => `v1 ${x}`);
      const edited = await runFreshPricing((x) => `v2 ${x}`);

      expect(names([first, same, edited])).toEqual(["Completed", "Cached", "Completed"]);
      expect(results([first, same, edited])).toEqual(["v1 5", "v1 5", "v2 5"]);
    });
  });
});

describe("cachePolicies.flowRun", () => {
  it("shares a result within one flow run but not across two", async () => {
    const calls: string[] = [];
    const perRun = task({ cachePolicy: cachePolicies.flowRun }, function perRun(label: string) {
      calls.push(label);
      return label;
    });
    const twice = flow(async function twice(a: string, b: string) {
      const first = perRun.submit(a);
      await first.wait();
      const second = perRun.submit(b);
      await second.wait();
      return [first.state.name, await first.result(), second.state.name, await second.result()];
    });

    expect(await twice("a", "b")).toEqual(["Completed", "a", "Cached", "a"]);
    expect(await twice("c", "d")).toEqual(["Completed", "c", "Cached", "c"]);
    expect(calls).toEqual(["a", "c"]);
  });
});

describe("cacheKeyFn", () => {
  it("shares results between runs whose key is equal", async () => {
    const calls: string[] = [];
    const contexts: { taskName: string; args: readonly unknown[] }[] = [];
    const fetchUser = task(
      {
        cacheKeyFn: (context, args) => {
          contexts.push({ taskName: context.taskName, args: context.args });
          return String((args[0] as { id: number }).id);
        },
      },
      function fetchUser(user: { id: number; requestId: string }) {
        calls.push(user.requestId);
        return `user ${user.id} via ${user.requestId}`;
      },
    );

    const states = await runInOneFlow(
      fetchUser,
      [{ id: 1, requestId: "r1" }],
      [{ id: 1, requestId: "r2" }],
      [{ id: 2, requestId: "r3" }],
    );

    expect(names(states)).toEqual(["Completed", "Cached", "Completed"]);
    expect(results(states)).toEqual(["user 1 via r1", "user 1 via r1", "user 2 via r3"]);
    expect(calls).toEqual(["r1", "r3"]);
    expect(contexts).toEqual([
      { taskName: "fetchUser", args: [{ id: 1, requestId: "r1" }] },
      { taskName: "fetchUser", args: [{ id: 1, requestId: "r2" }] },
      { taskName: "fetchUser", args: [{ id: 2, requestId: "r3" }] },
    ]);
  });

  it("returning undefined means 'do not cache this run'", async () => {
    const calls: number[] = [];
    const maybeCached = task(
      { cacheKeyFn: (_context, args) => ((args[0] as number) > 0 ? "positive" : undefined) },
      function maybeCached(x: number) {
        calls.push(x);
        return x * 100;
      },
    );

    const states = await runInOneFlow(maybeCached, [-1], [-1], [1], [2]);

    expect(names(states)).toEqual(["Completed", "Completed", "Completed", "Cached"]);
    expect(results(states)).toEqual([-100, -100, 100, 100]);
    expect(calls).toEqual([-1, -1, 1]);
  });
});

describe("cacheExpirationSeconds", () => {
  it("hits before the expiration and runs again after it", async () => {
    const calls: number[] = [];
    const shortLived = task(
      { cachePolicy: cachePolicies.inputs, cacheExpirationSeconds: 0.1 },
      function shortLived(x: number) {
        calls.push(x);
        return calls.length;
      },
    );
    const expiring = flow(async function expiring() {
      const states = [await shortLived.submit(1).wait(), await shortLived.submit(1).wait()];
      await sleep(150);
      states.push(await shortLived.submit(1).wait());
      states.push(await shortLived.submit(1).wait());
      return states;
    });

    const states = await expiring();

    expect(names(states)).toEqual(["Completed", "Cached", "Completed", "Cached"]);
    expect(results(states)).toEqual([1, 1, 2, 2]);
    expect(calls).toEqual([1, 1]);
  });

  it("needs a cache policy: without one the definition throws InvalidArgumentError", () => {
    expect(() => task({ cacheExpirationSeconds: 60 }, function noPolicy() {})).toThrow(InvalidArgumentError);
    expect(() => task({ cacheExpirationSeconds: 60 }, function noPolicyAgain() {})).toThrow(
      "`cacheExpirationSeconds` needs caching turned on: pass `cachePolicy` (e.g. `cachePolicies.inputs`) or `cacheKeyFn`.",
    );
  });

  it("rejects a negative expiration", () => {
    expect(() =>
      task({ cachePolicy: cachePolicies.inputs, cacheExpirationSeconds: -1 }, function negativeTtl() {}),
    ).toThrow(new InvalidArgumentError("Expected `cacheExpirationSeconds` to be a number >= 0, got `-1`"));
  });
});

describe("refreshCache", () => {
  it("runs even on a hit and replaces the cached value", async () => {
    let calls = 0;
    const counter = task({ cachePolicy: cachePolicies.inputs }, function counter(key: string) {
      calls += 1;
      return `${key} #${calls}`;
    });
    const refreshing = counter.withOptions({ refreshCache: true });
    const refreshFlow = flow(async function refreshFlow() {
      const states: State<string>[] = [];
      states.push(await counter.submit("k").wait());
      states.push(await counter.submit("k").wait());
      states.push(await refreshing.submit("k").wait());
      states.push(await counter.submit("k").wait());
      return states;
    });

    const states = await refreshFlow();

    expect(names(states)).toEqual(["Completed", "Cached", "Completed", "Cached"]);
    expect(results(states)).toEqual(["k #1", "k #1", "k #2", "k #2"]);
    expect(calls).toBe(2);
  });
});

describe("inputs that cannot be hashed", () => {
  // As in Prefect: a key that cannot be computed is logged, and the run goes on uncached.
  let warnings: string[] = [];
  beforeEach(() => {
    warnings = [];
    configureLogging({
      write: (line) => {
        if (line.includes("| WARNING")) warnings.push(line.replace(/^.*? - /, "").trimEnd());
      },
    });
  });

  it("runs uncached, warning once with the argument's path, and caches nothing", async () => {
    let calls = 0;
    const connect = task(
      { cachePolicy: cachePolicies.inputs },
      function connect(options: { url: string; client: () => string }) {
        calls += 1;
        return `${options.url} #${calls}`;
      },
    );
    const connectFlow = flow(async function connectFlow() {
      const client = () => "hi";
      const first = connect.submit({ url: "db://x", client });
      const second = connect.submit({ url: "db://x", client });
      return {
        results: await Promise.all([first.result(), second.result()]),
        states: [first.state.name, second.state.name],
      };
    });

    const { results, states } = await connectFlow();

    expect(results.sort()).toEqual(["db://x #1", "db://x #2"]);
    expect(states).toEqual(["Completed", "Completed"]);
    expect(calls).toBe(2);
    expect(warnings).toEqual([
      "Could not compute the cache key, so this run is not cached: Cannot compute a cache key from args[0].client: it is a function. Pass a `cacheKeyFn` that derives a key from the other arguments.",
      "Could not compute the cache key, so this run is not cached: Cannot compute a cache key from args[0].client: it is a function. Pass a `cacheKeyFn` that derives a key from the other arguments.",
    ]);
  });

  it("names a class instance argument and its class", async () => {
    class HttpClient {
      readonly base = "https://example.com";
    }
    let calls = 0;
    const download = task(
      { cachePolicy: cachePolicies.inputs },
      function download(path: string, _http: object) {
        calls += 1;
        return path;
      },
    );
    const downloadFlow = flow(async function downloadFlow() {
      return download("/a", [new HttpClient()]);
    });

    expect(await downloadFlow()).toBe("/a");
    expect(calls).toBe(1);
    expect(warnings).toEqual([
      "Could not compute the cache key, so this run is not cached: Cannot compute a cache key from args[1][0]: it is a HttpClient instance. Pass a `cacheKeyFn` that derives a key from the other arguments.",
    ]);
  });

  it("warns once for a run that is retried, and stores no cache record", async () => {
    let calls = 0;
    const store = new MemoryResultStore();
    const retriedUncached = task(
      { cachePolicy: cachePolicies.inputs, retries: 2, retryDelaySeconds: 0, resultStorage: store },
      function retriedUncached(_callback: () => void) {
        calls += 1;
        if (calls < 3) throw new Error(`attempt ${calls} failed`);
        return calls;
      },
    );
    const outcome = await flow(async function retriedFlow() {
      const run = retriedUncached.submit(() => {});
      const value = await run.result();
      return { value, state: run.state.name, attempts: (run as unknown as TaskRunInfo).attempts };
    })();

    expect(outcome).toEqual({ value: 3, state: "Completed", attempts: 3 });
    expect(warnings.filter((line) => line.startsWith("Could not compute the cache key"))).toHaveLength(1);
    expect(await store.list("")).toEqual([]);
  });

  it("warns with the error a cacheKeyFn threw, and runs uncached", async () => {
    let calls = 0;
    const keyed = task(
      {
        cacheKeyFn: () => {
          throw new TypeError("no key today");
        },
      },
      function keyed() {
        calls += 1;
        return calls;
      },
    );
    const keyedFlow = flow(async function keyedFlow() {
      return [await keyed.submit().result(), await keyed.submit().result()];
    });

    expect(await keyedFlow()).toEqual([1, 2]);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(
      /^Could not compute the cache key, so this run is not cached: TypeError: no key today\n/,
    );
  });

  it("runs a circular argument uncached, naming the path (not a stack overflow)", async () => {
    let calls = 0;
    const walk = task({ cachePolicy: cachePolicies.inputs }, function walk(node: { name: string }) {
      calls += 1;
      return node.name;
    });
    const node: { name: string; self?: unknown } = { name: "root" };
    node.self = node;
    const result = await flow(async function walkFlow() {
      return walk.submit(node).result();
    })();

    expect(result).toBe("root");
    expect(calls).toBe(1);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("args[0].self: it is a circular reference");
  });

  it("CacheKeyError is still what canonical() throws for such a value", () => {
    expect(() =>
      cachePolicies.inputs.computeKey({ taskName: "t", taskSource: "s", flowRunId: "f", args: [() => 1] }),
    ).toThrow(CacheKeyError);
  });
});

describe("conflicting options", () => {
  it("throws InvalidArgumentError when cachePolicy and cacheKeyFn are both given", () => {
    const both = () =>
      task({ cachePolicy: cachePolicies.inputs, cacheKeyFn: () => "k" }, function bothCacheOptions() {});
    expect(both).toThrow(InvalidArgumentError);
    expect(both).toThrow("Pass either `cachePolicy` or `cacheKeyFn`, not both: `cacheKeyFn` is a policy.");
  });

  it("throws the same when withOptions adds a cacheKeyFn to a task with a policy", () => {
    const withPolicy = task({ cachePolicy: cachePolicies.inputs }, function withPolicy() {});
    expect(() => withPolicy.withOptions({ cacheKeyFn: () => "k" })).toThrow(
      new InvalidArgumentError(
        "Pass either `cachePolicy` or `cacheKeyFn`, not both: `cacheKeyFn` is a policy.",
      ),
    );
  });

  it("rejects a cachePolicy that is not a CachePolicy", () => {
    expect(() =>
      task({ cachePolicy: "inputs" as never }, function stringPolicy() {
        return 1;
      }),
    ).toThrow(
      new InvalidArgumentError(
        "Expected `cachePolicy` to be a CachePolicy, such as `cachePolicies.inputs`, got `inputs`",
      ),
    );
  });
});

describe("a shared FileResultStore", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "squall-cache-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("keeps the cache across flow runs and store instances", async () => {
    const calls: string[] = [];
    const render = task(
      { cachePolicy: cachePolicies.inputs, resultStorage: new FileResultStore(dir) },
      function render(page: string) {
        calls.push(page);
        return { html: `<h1>${page}</h1>` };
      },
    );
    const site = flow(async function site(page: string) {
      const run = render.submit(page);
      return { state: (await run.wait()).name, result: await run.result() };
    });

    expect(await site("home")).toEqual({ state: "Completed", result: { html: "<h1>home</h1>" } });
    expect(await site("home")).toEqual({ state: "Cached", result: { html: "<h1>home</h1>" } });

    // A new store on the same folder (as a new process would make) sees the entry too.
    const renderAgain = render.withOptions({ resultStorage: new FileResultStore(dir) });
    const siteAgain = flow(async function siteAgain(page: string) {
      const run = renderAgain.submit(page);
      return { state: (await run.wait()).name, result: await run.result() };
    });
    expect(await siteAgain("home")).toEqual({ state: "Cached", result: { html: "<h1>home</h1>" } });
    expect(calls).toEqual(["home"]);
    expect((await new FileResultStore(dir).list("cache/")).length).toBe(1);
  });

  it("uses the flow's resultStorage for its tasks' cache", async () => {
    let calls = 0;
    const lookUp = task({ cachePolicy: cachePolicies.inputs }, function lookUp(word: string) {
      calls += 1;
      return word.length;
    });
    const dictionary = flow({ resultStorage: new FileResultStore(dir) }, async function dictionary() {
      return lookUp("squall");
    });

    expect(await dictionary()).toBe(6);
    expect(await new FileResultStore(dir).list("cache/")).toEqual([expect.stringMatching(/^cache\/lookUp-/)]);
    expect(await dictionary()).toBe(6);
    expect(calls).toBe(1);
  });
});

describe("failures", () => {
  it("does not cache a failed run", async () => {
    let calls = 0;
    const flaky = task({ cachePolicy: cachePolicies.inputs }, function flaky(x: number) {
      calls += 1;
      if (calls === 1) throw new Error(`boom ${x}`);
      return `ok ${x} on call ${calls}`;
    });
    const flakyFlow = flow(async function flakyFlow() {
      const states: State<string>[] = [];
      for (let i = 0; i < 3; i++) {
        const run = flaky.submit(4);
        await run.result({ raiseOnFailure: false });
        states.push(run.state);
      }
      return states;
    });

    const states = await flakyFlow();

    expect(names(states)).toEqual(["Failed", "Completed", "Cached"]);
    expect((results(states)[0] as Error).message).toBe("boom 4");
    expect(results(states).slice(1)).toEqual(["ok 4 on call 2", "ok 4 on call 2"]);
    expect(calls).toBe(2);
  });

  it("caches the result of a run that succeeded on a retry", async () => {
    let calls = 0;
    const retried = task(
      { cachePolicy: cachePolicies.inputs, retries: 1, retryDelaySeconds: 0 },
      function retried(x: number) {
        calls += 1;
        if (calls === 1) throw new Error("first attempt fails");
        return x + calls;
      },
    );

    const states = await runInOneFlow(retried, [10], [10]);

    expect(names(states)).toEqual(["Completed", "Cached"]);
    expect(results(states)).toEqual([12, 12]);
    expect(calls).toBe(2);
  });

  it("fails a run whose result cannot be stored in the cache, naming the problem", async () => {
    class Handle {
      close() {}
    }
    const unstorable = task({ cachePolicy: cachePolicies.inputs }, function unstorable() {
      return { handle: new Handle() };
    });
    const error = await flow(async function unstorableFlow() {
      return unstorable.submit().result({ raiseOnFailure: false });
    })();

    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(
      /^Could not store the result of task run 'unstorable-0': Cannot serialize result\.result\.handle: it is a Handle instance, which cannot cross to another process\./,
    );
  });
});

describe("caching with persistResult", () => {
  it("persists a cached run's result under its own task run too", async () => {
    const store = new MemoryResultStore();
    let calls = 0;
    const persistedAndCached = task(
      { cachePolicy: cachePolicies.inputs, persistResult: true, resultStorage: store },
      function persistedAndCached(x: number) {
        calls += 1;
        return x * 2;
      },
    );
    const both = flow(async function persistBoth() {
      const first = persistedAndCached.submit(21);
      await first.wait();
      const second = persistedAndCached.submit(21);
      await second.wait();
      return { ids: [first.taskRunId, second.taskRunId], state: second.state.name };
    });

    const state = await both.run();
    if (state.type !== "COMPLETED") throw new Error(`Expected a completed flow run, got ${state.name}`);
    const { ids, state: secondState } = state.result;
    expect(secondState).toBe("Cached");
    expect(calls).toBe(1);
    const flowRunId = state.flowRun.id;
    expect(await readPersistedResult(store, { flowRunId, taskRunId: ids[0] as string })).toBe(42);
    expect(await readPersistedResult(store, { flowRunId, taskRunId: ids[1] as string })).toBe(42);
  });
});
