import {
  allowFailure,
  asCompleted,
  configureLogging,
  flow,
  getRunContext,
  InvalidArgumentError,
  ResultTimeoutError,
  resetLogging,
  type StateName,
  type TaskFuture,
  TaskFutureList,
  type TaskRunInfo,
  task,
  UpstreamFailedError,
  unmapped,
  wait,
} from "squall";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { gate, rejectionOf, sleep, thrownBy, within } from "../support/async.js";

// Failed runs log their stack traces; keep the test output to the test results.
beforeEach(() => configureLogging({ write: () => {} }));
afterEach(() => resetLogging());

describe("futures as arguments", () => {
  it("resolves futures given at top level, inside arrays and inside plain objects before the task runs", async () => {
    const seven = task(function seven() {
      return 7;
    });
    const greeting = task(async function greeting() {
      await sleep(5);
      return "hi";
    });
    const received: unknown[][] = [];
    const gather = task(function gather(top: unknown, list: unknown, record: unknown) {
      received.push([top, list, record]);
      return "gathered";
    });
    const gatherFlow = flow(async function gatherFlow() {
      const n = seven.submit();
      const g = greeting.submit();
      return gather.submit(n, [n, 1, [g]], { n, nested: { words: [g], plain: 2 } }).result();
    });

    expect(await gatherFlow()).toBe("gathered");
    expect(received).toEqual([[7, [7, 1, ["hi"]], { n: 7, nested: { words: ["hi"], plain: 2 } }]]);
  });

  it("leaves the caller's arrays and objects holding the futures", async () => {
    const one = task(function one() {
      return 1;
    });
    const received: unknown[] = [];
    const inspect = task(function inspect(list: unknown, record: unknown) {
      received.push(list, record);
    });
    let upstream: TaskFuture<number> | undefined;
    let list: unknown[] = [];
    let record: { value?: unknown; inner: unknown[] } = { inner: [] };
    const keepFlow = flow(async function keepFlow() {
      upstream = one.submit();
      list = [upstream, [upstream]];
      record = { value: upstream, inner: [upstream] };
      await inspect.submit(list, record).result();
    });

    await keepFlow();
    expect(received).toEqual([[1, [1]], { value: 1, inner: [1] }]);
    expect(list[0]).toBe(upstream);
    expect((list[1] as unknown[])[0]).toBe(upstream);
    expect(record.value).toBe(upstream);
    expect(record.inner[0]).toBe(upstream);
    expect(received[0]).not.toBe(list);
    expect(received[1]).not.toBe(record);
  });

  it("waitFor starts a run only after the future it waits for finished, passing it no data", async () => {
    const events: string[] = [];
    const slowFirst = task(async function slowFirst() {
      events.push("slowFirst start");
      await sleep(30);
      events.push("slowFirst end");
      return "first";
    });
    const afterFirst = task(function afterFirst(...args: unknown[]) {
      events.push(`afterFirst start with ${args.length} args`);
    });
    const orderFlow = flow(async function orderFlow(ordered: boolean) {
      const first = slowFirst.submit();
      const second = ordered ? afterFirst.withOptions({ waitFor: [first] }).submit() : afterFirst.submit();
      await second.result();
      await first.result();
    });

    await orderFlow(true);
    expect(events).toEqual(["slowFirst start", "slowFirst end", "afterFirst start with 0 args"]);

    // Without waitFor, the concurrent runner starts the second run at once.
    events.length = 0;
    await orderFlow(false);
    expect(events).toEqual(["slowFirst start", "afterFirst start with 0 args", "slowFirst end"]);
  });

  it("waitFor on a failed future fails the run with UpstreamFailedError without calling it", async () => {
    const failsEarly = task(function failsEarly() {
      throw new Error("early failure");
    });
    const calls: string[] = [];
    const waitsOnFailure = task(function waitsOnFailure() {
      calls.push("ran");
    });
    const waitForFlow = flow(async function waitForFlow() {
      const bad = failsEarly.submit();
      const after = waitsOnFailure.withOptions({ waitFor: [bad] }).submit();
      const error = await after.result({ raiseOnFailure: false });
      await bad.result({ raiseOnFailure: false });
      return { error, badId: bad.taskRunId, afterState: after.state.name };
    });

    const { error, badId, afterState } = await waitForFlow();
    expect(error).toBeInstanceOf(UpstreamFailedError);
    expect((error as Error).message).toBe("Upstream task run 'failsEarly-0' did not complete.");
    expect((error as UpstreamFailedError).upstream).toEqual([{ id: badId, name: "failsEarly-0" }]);
    expect(afterState).toBe("Failed");
    expect(calls).toEqual([]);
  });

  it("fails the downstream run with UpstreamFailedError naming the failed upstream run, without calling it", async () => {
    const produceBroken = task(function produceBroken(): number {
      throw new TypeError("no data");
    });
    const fine = task(function fine() {
      return 1;
    });
    const calls: unknown[] = [];
    const consume = task(function consume(a: number, b: number) {
      calls.push([a, b]);
      return a + b;
    });
    const upstreamFlow = flow(async function upstreamFlow() {
      const broken = produceBroken.submit();
      const ok = fine.submit();
      const downstream = consume.submit(ok, broken);
      const thrown = await rejectionOf(downstream.result());
      await broken.result({ raiseOnFailure: false });
      return { thrown, brokenId: broken.taskRunId, state: downstream.state };
    });

    const { thrown, brokenId, state } = await upstreamFlow();
    expect(thrown).toBeInstanceOf(UpstreamFailedError);
    expect(thrown.message).toBe("Upstream task run 'produceBroken-0' did not complete.");
    expect((thrown as UpstreamFailedError).upstream).toEqual([{ id: brokenId, name: "produceBroken-0" }]);
    expect(state.type).toBe("FAILED");
    expect(state.name).toBe("Failed");
    expect(calls).toEqual([]);
  });

  it("allowFailure lets the downstream run, which receives the upstream's Error, and the flow completes", async () => {
    const boom = new Error("upstream broke");
    const breaks = task(function breaks() {
      throw boom;
    });
    const received: unknown[] = [];
    const tolerant = task(function tolerant(input: unknown) {
      received.push(input);
      return input instanceof Error ? `recovered from ${input.message}` : `got ${String(input)}`;
    });
    const tolerantFlow = flow(async function tolerantFlow() {
      return tolerant.submit(allowFailure(breaks.submit())).result();
    });

    const state = await tolerantFlow.run();
    expect(state.type).toBe("COMPLETED");
    expect(state.type === "COMPLETED" && state.result).toBe("recovered from upstream broke");
    expect(received).toHaveLength(1);
    expect(received[0]).toBe(boom);
  });

  it("allowFailure passes a completed upstream's result as it is", async () => {
    const worksFine = task(function worksFine() {
      return 41;
    });
    const plusOne = task(function plusOne(input: unknown) {
      return (input as number) + 1;
    });
    const allowOkFlow = flow(async function allowOkFlow() {
      return plusOne.submit(allowFailure(worksFine.submit())).result();
    });

    expect(await allowOkFlow()).toBe(42);
  });
});

describe("task.map()", () => {
  it("runs once per item and keeps input order in result(), whatever the completion order", async () => {
    const finished: number[] = [];
    const double = task(async function double(x: number) {
      await sleep((4 - x) * 15);
      finished.push(x);
      return 2 * x;
    });
    const mapFlow = flow(async function mapFlow() {
      const futures = double.map([1, 2, 3]);
      return {
        isList: futures instanceof TaskFutureList,
        names: futures.map((future) => future.taskRunName),
        results: await futures.result(),
      };
    });

    const { isList, names, results } = await mapFlow();
    expect(isList).toBe(true);
    expect(names).toEqual(["double-0", "double-1", "double-2"]);
    expect(results).toEqual([2, 4, 6]);
    expect(finished).toEqual([3, 2, 1]);
  });

  it("zips two iterables item by item", async () => {
    const add = task(function add(a: number, b: number) {
      return a + b;
    });
    const zipFlow = flow(function zipFlow() {
      return add.map([1, 2, 3], new Set([10, 20, 30])).result();
    });

    expect(await zipFlow()).toEqual([11, 22, 33]);
  });

  it("resolves futures that are items of a mapped array", async () => {
    const base = task(function base(x: number) {
      return x * 10;
    });
    const addOne = task(function addOne(x: number) {
      return x + 1;
    });
    const chainFlow = flow(function chainFlow() {
      return addOne.map([base.submit(1), base.submit(2)]).result();
    });

    expect(await chainFlow()).toEqual([11, 21]);
  });

  it("passes an unmapped() value, even an array, whole to every run", async () => {
    const seen: unknown[] = [];
    const scale = task(function scale(x: number, factors: number[]) {
      seen.push(factors);
      return factors.map((factor) => x * factor);
    });
    const unmappedFlow = flow(function unmappedFlow() {
      return scale.map([1, 2], unmapped([10, 100])).result();
    });

    expect(await unmappedFlow()).toEqual([
      [10, 100],
      [20, 200],
    ]);
    expect(seen).toEqual([
      [10, 100],
      [10, 100],
    ]);
  });

  it("passes a string argument whole to every run", async () => {
    const repeat = task(function repeat(times: number, text: string) {
      return text.repeat(times);
    });
    const stringFlow = flow(function stringFlow() {
      return repeat.map([1, 2, 3], "ab").result();
    });

    expect(await stringFlow()).toEqual(["ab", "abab", "ababab"]);
  });

  it("throws InvalidArgumentError at the call for iterables of unequal lengths, submitting nothing", async () => {
    const calls: unknown[] = [];
    const pair = task(function pair(a: number, b: number) {
      calls.push([a, b]);
      return a * b;
    });
    const unequalFlow = flow(async function unequalFlow() {
      const error = thrownBy(() => pair.map([1, 2, 3], [1, 2]));
      // No run was created: the next run of the task is its first.
      const next = pair.submit(2, 3);
      return { error, nextName: next.taskRunName, next: await next.result() };
    });

    const { error, nextName, next } = await unequalFlow();
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.message).toBe(
      "pair.map() got iterables of different lengths: args[0] has 3 items, args[1] has 2. Pass iterables of one length, or wrap a constant in unmapped().",
    );
    expect(nextName).toBe("pair-0");
    expect(next).toBe(6);
    expect(calls).toEqual([[2, 3]]);
  });

  it("throws InvalidArgumentError for a future (or allowFailure) given as a map argument", async () => {
    const listMaker = task(function listMaker() {
      return [1, 2];
    });
    const mapOverFuture = task(function mapOverFuture(x: number, y: number) {
      return x + y;
    });
    const futureArgFlow = flow(async function futureArgFlow() {
      const list = listMaker.submit();
      const direct = thrownBy(() => mapOverFuture.map(list as never, 1));
      const allowed = thrownBy(() => mapOverFuture.map([1, 2], allowFailure(list) as never));
      await list.result();
      return { direct, allowed };
    });

    const { direct, allowed } = await futureArgFlow();
    expect(direct).toBeInstanceOf(InvalidArgumentError);
    expect(direct.message).toBe(
      "mapOverFuture.map() got a future as args[0], whose items are not known yet. Await it first (await future.result()), or wrap it in unmapped() to pass it whole.",
    );
    expect(allowed).toBeInstanceOf(InvalidArgumentError);
    expect(allowed.message).toBe(
      "mapOverFuture.map() got a future as args[1], whose items are not known yet. Await it first (await future.result()), or wrap it in unmapped() to pass it whole.",
    );
  });

  it("over allowFailure(list) runs once per item, each getting its item's result or error, and the flow completes", async () => {
    const fetchItem = task(function fetchItem(i: number) {
      if (i === 1) throw new RangeError(`item ${i} is missing`);
      return i * 10;
    });
    const received: unknown[] = [];
    const check = task(function check(value: number | Error, label: string) {
      received.push(value);
      return value instanceof Error ? `${label}: ${value.name} ${value.message}` : `${label}: ${value}`;
    });
    const tolerantMapFlow = flow(async function tolerantMapFlow() {
      const fetched = fetchItem.map([0, 1, 2]);
      return check.map(allowFailure(fetched), unmapped("checked")).result();
    });

    const state = await tolerantMapFlow.run();
    expect(state.name).toBe("Completed");
    expect(state.type === "COMPLETED" && state.result).toEqual([
      "checked: 0",
      "checked: RangeError item 1 is missing",
      "checked: 20",
    ]);
    expect(received).toHaveLength(3);
    expect(received[1]).toBeInstanceOf(RangeError);
  });

  it("allowFailure(list) refuses an item that is not a future, naming it", () => {
    const error = thrownBy(() => allowFailure([42] as never));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.message).toBe(
      "Expected allowFailure() to get a task future or a list of them, but item 0 is `42`",
    );
  });

  it("throws InvalidArgumentError when no argument is iterable", async () => {
    const noIterable = task(function noIterable(x: number, ys: number[]) {
      return x + ys.length;
    });
    const noIterableFlow = flow(function noIterableFlow() {
      return [thrownBy(() => noIterable.map(5, unmapped([1, 2])))];
    });

    const [error] = await noIterableFlow();
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error?.message).toBe(
      "noIterable.map() needs at least one iterable argument (such as an array) to map over. Use noIterable.submit() for a single run.",
    );
  });

  it("over an empty array gives an empty list and runs nothing", async () => {
    const calls: number[] = [];
    const neverCalled = task(function neverCalled(x: number) {
      calls.push(x);
      return x;
    });
    const emptyFlow = flow(async function emptyFlow() {
      const futures = neverCalled.map([]);
      return { length: futures.length, results: await futures.result(), states: await futures.wait() };
    });

    expect(await emptyFlow()).toEqual({ length: 0, results: [], states: [] });
    expect(calls).toEqual([]);
  });
});

describe("TaskFutureList", () => {
  it("wait() gives every final state in input order", async () => {
    const delayed = task(async function delayed(ms: number) {
      await sleep(ms);
      return ms;
    });
    const waitListFlow = flow(async function waitListFlow() {
      const states = await delayed.map([30, 5, 15]).wait();
      return states.map((state) => [state.name, state.type === "COMPLETED" ? state.result : undefined]);
    });

    expect(await waitListFlow()).toEqual([
      ["Completed", 30],
      ["Completed", 5],
      ["Completed", 15],
    ]);
  });

  it("result() throws the first failure as it happens, without waiting for a slower run before it", async () => {
    const release = gate();
    const failsSome = task(async function failsSome(i: number) {
      // Item 0 is held until the list's result() has settled.
      if (i === 0) await release.promise;
      else await sleep(5);
      if (i !== 1) throw new Error(`item ${i} failed`);
      return i;
    });
    const firstFailureFlow = flow(async function firstFailureFlow() {
      const futures = failsSome.map([0, 1, 2]);
      const error = await within(2_000, rejectionOf(futures.result()));
      const heldState = futures[0]?.state.name;
      release.open();
      await futures.wait();
      return { error: error === "still running" ? error : error.message, heldState };
    });

    expect(await firstFailureFlow()).toEqual({ error: "item 2 failed", heldState: "Running" });
  });

  it("result({ raiseOnFailure: false }) gives every result or error in input order", async () => {
    const failsOdd = task(async function failsOdd(i: number) {
      await sleep(i === 0 ? 30 : 5);
      if (i % 2 === 1) throw new Error(`item ${i} failed`);
      return i;
    });
    const allOutcomesFlow = flow(async function allOutcomesFlow() {
      const outcomes = await failsOdd.map([0, 1, 2]).result({ raiseOnFailure: false });
      return outcomes.map((outcome) => (outcome instanceof Error ? outcome.message : outcome));
    });

    expect(await allOutcomesFlow()).toEqual([0, "item 1 failed", 2]);
  });

  it("result({ timeoutMs }) rejects once for the whole list, counting the runs not finished", async () => {
    const release = gate();
    const held = task(async function held(i: number) {
      if (i > 0) await release.promise;
      return i;
    });
    const listTimeoutFlow = flow(async function listTimeoutFlow() {
      const futures = held.map([0, 1, 2]);
      const error = await rejectionOf(futures.result({ timeoutMs: 30 }));
      release.open();
      return { error, results: await futures.result() };
    });

    const { error, results } = await listTimeoutFlow();
    expect(error).toBeInstanceOf(ResultTimeoutError);
    expect(error.message).toBe("2 of 3 task runs did not finish within 30 ms; they go on.");
    expect(results).toEqual([0, 1, 2]);
  });
});

describe("wait() and asCompleted()", () => {
  it("wait() with timeoutMs splits the futures into done and notDone", async () => {
    const release = gate();
    const quickOne = task(function quickOne() {
      return "quick";
    });
    const heldBack = task(async function heldBack() {
      await release.promise;
      return "held";
    });
    const names = (futures: TaskFuture<string>[]) => futures.map((future) => future.taskRunName);
    const waitFlow = flow(async function waitFlow() {
      const futures = [quickOne.submit(), heldBack.submit()];
      const early = await wait(futures, { timeoutMs: 30 });
      release.open();
      const late = await wait(futures);
      return {
        early: [names(early.done), names(early.notDone)],
        late: [names(late.done), names(late.notDone)],
      };
    });

    expect(await waitFlow()).toEqual({
      early: [["quickOne-0"], ["heldBack-0"]],
      late: [["quickOne-0", "heldBack-0"], []],
    });
  });

  it("asCompleted() yields futures in the order their runs finish", async () => {
    const sleeper = task(async function sleeper(ms: number) {
      await sleep(ms);
      return ms;
    });
    const completedFlow = flow(async function completedFlow() {
      const order: [string, number][] = [];
      for await (const future of asCompleted(sleeper.map([70, 10, 40]))) {
        order.push([future.taskRunName, await future.result()]);
      }
      return order;
    });

    expect(await completedFlow()).toEqual([
      ["sleeper-1", 10],
      ["sleeper-2", 40],
      ["sleeper-0", 70],
    ]);
  });

  it("asCompleted() throws ResultTimeoutError at its deadline after yielding what finished", async () => {
    const release = gate();
    const fastOne = task(function fastOne() {
      return 1;
    });
    const stuck = task(async function stuck() {
      await release.promise;
      return 2;
    });
    const deadlineFlow = flow(async function deadlineFlow() {
      const seen: string[] = [];
      let error: unknown;
      try {
        for await (const future of asCompleted<number>([stuck.submit(), fastOne.submit()], {
          timeoutMs: 30,
        })) {
          seen.push(future.taskRunName);
        }
      } catch (thrown) {
        error = thrown;
      }
      release.open();
      return { seen, error };
    });

    const { seen, error } = await deadlineFlow();
    expect(seen).toEqual(["fastOne-0"]);
    expect(error).toBeInstanceOf(ResultTimeoutError);
    expect((error as Error).message).toBe("1 of 2 task runs did not finish within 30 ms.");
  });

  it("asCompleted() with timeoutMs 0 yields the runs already finished, then times out for the others", async () => {
    const release = gate();
    const quick = task(function quick() {
      return 1;
    });
    const stuckToo = task(async function stuckToo() {
      await release.promise;
      return 2;
    });
    const zeroFlow = flow(async function zeroFlow() {
      const done = quick.submit();
      await done.wait();
      const seen: string[] = [];
      let error: unknown;
      try {
        for await (const future of asCompleted<number>([stuckToo.submit(), done], { timeoutMs: 0 })) {
          seen.push(future.taskRunName);
        }
      } catch (thrown) {
        error = thrown;
      }
      const alone: string[] = [];
      for await (const future of asCompleted([done], { timeoutMs: 0 })) alone.push(future.taskRunName);
      release.open();
      return { seen, error, alone };
    });

    const { seen, error, alone } = await zeroFlow();
    expect(seen).toEqual(["quick-0"]);
    expect(error).toBeInstanceOf(ResultTimeoutError);
    expect((error as Error).message).toBe("1 of 2 task runs did not finish within 0 ms.");
    expect(alone).toEqual(["quick-0"]);
  });

  it("wait() and asCompleted() give a future passed twice back once, as Prefect's do", async () => {
    const twice = task(function twice(n: number) {
      return n;
    });
    const duplicateFlow = flow(async function duplicateFlow() {
      const one = twice.submit(1);
      const two = twice.submit(2);
      const { done, notDone } = await wait([one, two, one]);
      const yielded: string[] = [];
      for await (const future of asCompleted([one, one, two])) yielded.push(future.taskRunName);
      return { done: done.map((f) => f.taskRunName), notDone: notDone.length, yielded: yielded.sort() };
    });

    expect(await duplicateFlow()).toEqual({
      done: ["twice-0", "twice-1"],
      notDone: 0,
      yielded: ["twice-0", "twice-1"],
    });
  });

  it("refuses a negative, NaN, infinite or non-number timeout at once with InvalidArgumentError", async () => {
    const release = gate();
    const waitsForGate = task(async function waitsForGate(n: number) {
      await release.promise;
      return n;
    });
    const message = (caller: string, got: string) =>
      `Expected \`timeoutMs\` of ${caller}() to be a number of milliseconds from 0 to 2147483647, got \`${got}\`: pass 0 to take only what has finished, or leave it out to wait without a limit.`;
    const badTimeoutFlow = flow(async function badTimeoutFlow() {
      const future = waitsForGate.submit(1);
      const futures = waitsForGate.map([1, 2]);
      const errors = [
        await rejectionOf(future.result({ timeoutMs: -1 })),
        await rejectionOf(future.wait(-1)),
        await rejectionOf(future.wait(Number.NaN)),
        await rejectionOf(futures.result({ timeoutMs: Number.POSITIVE_INFINITY })),
        await rejectionOf(futures.wait(-5)),
        await rejectionOf(wait(futures, { timeoutMs: "5" as never })),
        await rejectionOf(asCompleted(futures, { timeoutMs: -1 }).next()),
        await rejectionOf(future.result({ timeoutMs: 2 ** 31 })),
      ];
      const stateAfter = future.state.name;
      release.open();
      return { errors, stateAfter, value: await future.result() };
    });

    const { errors, stateAfter, value } = await badTimeoutFlow();
    for (const error of errors) expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(errors.map((error) => error.message)).toEqual([
      message("result", "-1"),
      message("wait", "-1"),
      message("wait", "NaN"),
      message("result", "Infinity"),
      message("wait", "-5"),
      message("wait", '"5"'),
      message("asCompleted", "-1"),
      message("result", "2147483648"),
    ]);
    expect(stateAfter).toBe("Running");
    expect(value).toBe(1);
  });

  it("wait() and asCompleted() reject a non-iterable with InvalidArgumentError", async () => {
    const waitError = await rejectionOf(wait(42 as never));
    expect(waitError).toBeInstanceOf(InvalidArgumentError);
    expect(waitError.message).toBe("Expected wait() to get an iterable of task futures, got `42`");

    const asCompletedError = await rejectionOf(asCompleted(null as never).next());
    expect(asCompletedError).toBeInstanceOf(InvalidArgumentError);
    expect(asCompletedError.message).toBe(
      "Expected asCompleted() to get an iterable of task futures, got `null`",
    );

    const itemError = await rejectionOf(wait(["nope"] as never));
    expect(itemError).toBeInstanceOf(InvalidArgumentError);
    expect(itemError.message).toBe("Expected wait() to get task futures, but item 0 is `nope`");
  });
});

describe("TaskFuture", () => {
  it("result({ timeoutMs }) rejects with ResultTimeoutError while the run goes on to complete", async () => {
    const release = gate();
    const slowAnswer = task(async function slowAnswer() {
      await release.promise;
      return 42;
    });
    const timeoutFlow = flow(async function timeoutFlow() {
      const future = slowAnswer.submit();
      const error = await rejectionOf(future.result({ timeoutMs: 20 }));
      const stateAfterTimeout = future.state.name;
      release.open();
      const value = await future.result();
      return { error, stateAfterTimeout, value, finalState: future.state };
    });

    const { error, stateAfterTimeout, value, finalState } = await timeoutFlow();
    expect(error).toBeInstanceOf(ResultTimeoutError);
    expect(error.message).toBe("Task run 'slowAnswer-0' did not finish within 20 ms; it is still Running.");
    expect(stateAfterTimeout).toBe("Running");
    expect(value).toBe(42);
    expect(finalState.name).toBe("Completed");
    expect(finalState.type === "COMPLETED" && finalState.result).toBe(42);
  });

  it("result({ raiseOnFailure: false }) returns the task's own error; result() throws that same error", async () => {
    const thrown = new RangeError("out of range");
    const rangeCheck = task(function rangeCheck(): number {
      throw thrown;
    });
    const noRaiseFlow = flow(async function noRaiseFlow() {
      const future = rangeCheck.submit();
      const returned = await future.result({ raiseOnFailure: false });
      const rejected = await rejectionOf(future.result());
      return { returned, rejected, id: future.taskRunId };
    });

    const state = await noRaiseFlow.run();
    expect(state.type).toBe("COMPLETED");
    const { returned, rejected, id } = state.type === "COMPLETED" ? state.result : ({} as never);
    expect(returned).toBe(thrown);
    expect(rejected).toBe(thrown);
    expect(returned).toBeInstanceOf(RangeError);
    expect(returned).toMatchObject({ message: "out of range", taskRunName: "rangeCheck-0", taskRunId: id });
  });

  it("state goes Pending -> Running -> Completed, and the run records its attempts and times", async () => {
    const started = gate();
    const release = gate();
    const insideStates: StateName[] = [];
    const progress = task(async function progress() {
      insideStates.push(getRunContext().taskRun?.state.name as StateName);
      started.open();
      await release.promise;
      return "done";
    });
    const progressFlow = flow(async function progressFlow() {
      const future = progress.submit();
      const seen = [future.state];
      await started.promise;
      seen.push(future.state);
      release.open();
      await future.wait();
      seen.push(future.state);
      const info = future as TaskFuture<string> & TaskRunInfo;
      return {
        seen: seen.map((state) => [state.type, state.name]),
        result: future.state.type === "COMPLETED" ? future.state.result : undefined,
        attempts: info.attempts,
        timesInOrder: (info.startTime?.getTime() ?? Number.NaN) <= (info.endTime?.getTime() ?? Number.NaN),
        taskName: info.taskName,
      };
    });

    expect(await progressFlow()).toEqual({
      seen: [
        ["PENDING", "Pending"],
        ["RUNNING", "Running"],
        ["COMPLETED", "Completed"],
      ],
      result: "done",
      attempts: 1,
      timesInOrder: true,
      taskName: "progress",
    });
    expect(insideStates).toEqual(["Running"]);
  });
});
