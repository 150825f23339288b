import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import {
  configureLogging,
  flow,
  InvalidArgumentError,
  resetLogging,
  SquallError,
  type TaskFuture,
  TaskRunsFailedError,
  task,
} from "squall";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { sleep } from "../support/async.js";

beforeEach(() => configureLogging({ write: () => {} }));
afterEach(() => resetLogging());

const double = task(function streamDouble(x: number) {
  return 2 * x;
});
const addTo = task(function streamAddTo(x: number, y: number) {
  return x + y;
});
/** Waits `ms`, then gives its item's place. */
const napThenPlace = task(async function streamNapThenPlace(item: { place: number; ms: number }) {
  await sleep(item.ms);
  return item.place;
});
const oddFails = task(function streamOddFails(x: number) {
  if (x % 2 === 1) throw new RangeError(`odd ${x}`);
  return x;
});

/** An async generator of 0..n-1 that records, at each pull, how far it is ahead of finished runs. */
function counted(n: number, finished: () => number) {
  const seen = { pulled: 0, mostAhead: 0 };
  async function* items() {
    for (let i = 0; i < n; i++) {
      await Promise.resolve();
      seen.pulled += 1;
      seen.mostAhead = Math.max(seen.mostAhead, seen.pulled - finished());
      yield i;
    }
  }
  return { items: items(), seen };
}

describe("task.mapStream()", () => {
  it("gives every result in input order, never pulling more than maxInFlight ahead of the reader", async () => {
    let read = 0;
    const { items, seen } = counted(1000, () => read);
    const sum = flow({ name: "stream-sum" }, async () => {
      const results: number[] = [];
      for await (const value of double.mapStream(items, { maxInFlight: 7 })) {
        read += 1;
        results.push(value);
      }
      return results;
    });
    const results = await sum();
    expect(results).toEqual(Array.from({ length: 1000 }, (_, i) => 2 * i));
    expect(seen.pulled).toBe(1000);
    expect(seen.mostAhead).toBe(7);
  });

  it("passes `args` to every run after the mapped item, and maps sync iterables too", async () => {
    const added = flow({ name: "stream-args" }, async () => {
      const out: number[] = [];
      for await (const value of addTo.mapStream(new Set([1, 2, 3]), { args: [10] })) out.push(value);
      return out;
    });
    expect(await added()).toEqual([11, 12, 13]);
  });

  it("asCompleted() yields first finished first and keeps maxInFlight runs going", async () => {
    const order = flow({ name: "stream-completed" }, async () => {
      const naps = [200, 150, 5, 5, 5, 5].map((ms, place) => ({ place, ms }));
      const stream = napThenPlace.mapStream(naps, { maxInFlight: 3 });
      const out: number[] = [];
      for await (const future of stream.asCompleted()) out.push(await future.result());
      return out;
    });
    // 0, 1, 2 start together and 2 ends first; each ending starts the next item, which ends before 0 and 1.
    expect(await order()).toEqual([2, 3, 4, 5, 1, 0]);
  });

  it("futures() hands over each finished run in input order, failures included", async () => {
    const states = flow({ name: "stream-futures" }, async () => {
      const out: string[] = [];
      for await (const future of oddFails.mapStream([0, 1, 2, 3], { maxInFlight: 2 }).futures()) {
        out.push(`${future.state.name}:${String(await future.result({ raiseOnFailure: false }))}`);
      }
      return out;
    });
    expect(await states()).toEqual([
      "Completed:0",
      "Failed:RangeError: odd 1",
      "Completed:2",
      "Failed:RangeError: odd 3",
    ]);
  });

  it("throws the first failure in input order when read for results; the flow fails with it", async () => {
    const failing = flow({ name: "stream-failure" }, async () => {
      let total = 0;
      for await (const value of oddFails.mapStream([0, 2, 4, 5, 6])) total += value;
      return total;
    });
    const state = await failing().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(state).toBeInstanceOf(RangeError);
    expect((state as Error).message).toBe("odd 5");
  });

  it("an error thrown by the items fails the flow, naming the task and how far it got", async () => {
    async function* broken() {
      yield 1;
      yield 2;
      throw new TypeError("listing went away");
    }
    const reading = flow({ name: "stream-broken-items" }, async () => {
      const out: number[] = [];
      for await (const value of double.mapStream(broken())) out.push(value);
      return out;
    });
    const error = (await reading().then(
      () => undefined,
      (e: unknown) => e,
    )) as SquallError;
    expect(error).toBeInstanceOf(SquallError);
    expect(error.message).toBe(
      "The items streamDouble.mapStream() maps over threw after 2 items: listing went away",
    );
    expect((error.cause as Error).name).toBe("TypeError");
  });

  it("pulls nothing before it is read, closes the items when the reader stops early, and reads once", async () => {
    let pulled = 0;
    let closed = false;
    async function* items() {
      try {
        for (let i = 0; ; i++) {
          pulled += 1;
          yield i;
        }
      } finally {
        closed = true;
      }
    }
    const early = flow({ name: "stream-early-stop" }, async () => {
      const stream = double.mapStream(items(), { maxInFlight: 4 });
      await sleep(5);
      const before = pulled;
      const first: number[] = [];
      for await (const value of stream) {
        first.push(value);
        if (first.length === 3) break;
      }
      const again = (() => {
        try {
          stream.futures();
          return undefined;
        } catch (error) {
          return error as Error;
        }
      })();
      return { before, first, again, taken: stream.taken };
    });
    const { before, first, again, taken } = await early();
    expect(taken).toBe(6);
    expect(before).toBe(0);
    expect(first).toEqual([0, 2, 4]);
    expect(closed).toBe(true);
    expect(pulled).toBe(6); // three handed over, three more taken to keep four in flight
    expect(again).toBeInstanceOf(InvalidArgumentError);
    expect(again?.message).toBe(
      "streamDouble.mapStream() can be read once (its items are pulled as it is read), but futures() was asked for after it had been read. Keep what you need from the first reading.",
    );
  });

  it("stops pulling items once its flow run is cancelled", async () => {
    let pulled = 0;
    async function* endless() {
      for (let i = 0; ; i++) {
        pulled += 1;
        yield i;
      }
    }
    const controller = new AbortController();
    const reading = flow({ name: "stream-cancelled", signal: controller.signal }, async () => {
      for await (const future of napThenPlace
        .mapStream(
          (async function* () {
            for await (const i of endless()) yield { place: i, ms: 20 };
          })(),
          { maxInFlight: 5 },
        )
        .asCompleted()) {
        if (future.state.name === "Completed" && pulled >= 10) controller.abort(new Error("enough"));
      }
    });
    const state = await reading.run();
    await sleep(20);
    const after = pulled;
    await sleep(20);
    expect(state.name).toBe("Cancelled");
    expect(pulled).toBe(after); // nothing pulled once the flow run ended
    expect(pulled).toBeLessThan(30);
  });

  it("refuses bad arguments with exact messages", async () => {
    const bad = flow({ name: "stream-bad-args" }, async () => {
      const messages: string[] = [];
      for (const call of [
        () => double.mapStream(5 as never),
        () => double.mapStream([1], { maxInFlight: 0 }),
        () => double.mapStream([1], "fast" as never),
      ]) {
        try {
          call();
        } catch (error) {
          messages.push((error as Error).message);
        }
      }
      return messages;
    });
    expect(await bad()).toEqual([
      "Expected streamDouble.mapStream() to get an iterable or async iterable of items, got `5`",
      "Expected `maxInFlight` to be an integer >= 1, got `0`",
      "Expected streamDouble.mapStream()'s options to be an object, got `fast`",
    ]);
  });

  it("a failed run the reader never looked at still fails the flow", async () => {
    const unread = flow({ name: "stream-unread-failure" }, async () => {
      const stream = oddFails.mapStream([0, 1], { maxInFlight: 2 });
      const seen: TaskFuture<number>[] = [];
      for await (const future of stream.asCompleted()) seen.push(future);
      return seen.length;
    });
    const error = await unread().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TaskRunsFailedError);
  });
});

describe("what finished runs cost the caller", () => {
  /** The JavaScript heap in use after full garbage collections. */
  const heldHeap = (() => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    return () => {
      gc();
      gc();
      return process.memoryUsage().heapUsed;
    };
  })();

  it("200,000 streamed runs leave under 1 KB per finished run, halfway and after", async () => {
    const count = 200_000;
    let halfway = 0;
    const sum = flow({ name: "stream-memory" }, async () => {
      async function* numbers() {
        for (let i = 0; i < count; i++) yield i;
      }
      let total = 0;
      let read = 0;
      for await (const value of double.mapStream(numbers(), { maxInFlight: 1000 })) {
        total += value;
        read += 1;
        if (read === count / 2) halfway = heldHeap();
      }
      return total;
    });
    await sum(); // what every flow run shares is set up before the count starts
    const before = heldHeap();
    expect(await sum()).toBe(count * (count - 1));
    const after = heldHeap();
    expect((halfway - before) / count).toBeLessThan(1024);
    expect((after - before) / count).toBeLessThan(1024);
  }, 60_000);

  it("a finished run whose future is kept costs under 1 KB with its future", async () => {
    const count = 50_000;
    const kept: TaskFuture<number>[][] = [];
    const keep = flow({ name: "stream-kept-futures" }, async () => {
      await double.map([0]).result();
      const before = heldHeap();
      for (let done = 0; done < count; done += 10_000) {
        const futures = double.map(Array.from({ length: 10_000 }, (_, i) => done + i));
        await futures.result();
        kept.push(futures);
      }
      return (heldHeap() - before) / count;
    });
    expect(await keep()).toBeLessThan(1024);
    expect(kept.flat()).toHaveLength(count);
  }, 60_000);
});
