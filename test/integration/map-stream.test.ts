import { configureLogging, flow, resetLogging, SquallError } from "squall";
import { LambdaTaskRunner, type LocalEnvironment, startLocalEnvironment } from "squall/aws";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { streamedNoop } from "../fixtures/stream-flow.js";
import { callerReport } from "../support/local-environment.js";

const CALLER = new URL("../fixtures/stream-flow.ts", import.meta.url);

beforeEach(() => configureLogging({ write: () => {} }));
afterEach(() => resetLogging());

let local: LocalEnvironment;
let runner: LambdaTaskRunner;

beforeAll(async () => {
  local = await startLocalEnvironment({ workers: 2 });
  runner = new LambdaTaskRunner(local.address);
}, 30_000);
afterAll(async () => {
  await local?.stop();
});

interface Report {
  sum: number;
  before: number;
  halfway: number;
  after: number;
  perRun: number;
}

/** Runs the caller in a process of its own (its memory is then the caller's alone); its report. */
function runCaller(count: number, maxInFlight: number, mode = "stream"): Promise<Report> {
  return callerReport<Report>(local, CALLER, [String(count), String(maxInFlight), mode]);
}

describe("task.mapStream() on the Lambda runner", () => {
  it("maps over an async generator in input order, never pulling more than maxInFlight ahead", async () => {
    const count = 2000;
    const bound = 64;
    let read = 0;
    let pulled = 0;
    let mostAhead = 0;
    async function* numbers() {
      for (let i = 0; i < count; i++) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        pulled += 1;
        mostAhead = Math.max(mostAhead, pulled - read);
        yield i;
      }
    }
    const streamed = flow({ name: "lambda-stream-in-order", taskRunner: runner }, async () => {
      const results: number[] = [];
      for await (const value of streamedNoop.mapStream(numbers(), { maxInFlight: bound })) {
        read += 1;
        results.push(value);
      }
      return results;
    });
    const results = await streamed();
    expect(results).toEqual(Array.from({ length: count }, (_, i) => i));
    expect(pulled).toBe(count);
    expect(mostAhead).toBe(bound);
  }, 60_000);

  it("fails the flow with the items' own error, after the runs it started finish", async () => {
    async function* listing() {
      yield 1;
      yield 2;
      yield 3;
      throw new Error("ListObjectsV2 was refused");
    }
    const streamed = flow({ name: "lambda-stream-broken-items", taskRunner: runner }, async () => {
      let sum = 0;
      for await (const value of streamedNoop.mapStream(listing(), { maxInFlight: 2 })) sum += value;
      return sum;
    });
    const state = await streamed.run();
    expect(state.name).toBe("Failed");
    const error = "error" in state ? state.error : undefined;
    expect(error).toBeInstanceOf(SquallError);
    expect(error?.message).toBe(
      "The items streamedNoop.mapStream() maps over threw after 3 items: ListObjectsV2 was refused",
    );
    expect(((error as Error).cause as Error).message).toBe("ListObjectsV2 was refused");
  }, 60_000);

  it("keeps the caller's memory per finished run under 1 KB over 20,000 streamed runs", async () => {
    const count = 20_000;
    const report = await runCaller(count, 500);
    expect(report.sum).toBe((count * (count - 1)) / 2);
    // Generous margins: what is left after the flow, and what is held halfway, per run.
    expect((report.after - report.before) / count).toBeLessThan(1024);
    expect((report.halfway - report.before) / count).toBeLessThan(1024);
  }, 120_000);

  it("a finished run whose future is kept holds little beyond the future itself", async () => {
    // 50,000 runs mapped 10,000 at a time, every future kept. Such a run costs about 330 bytes with
    // its future here; it held about 495 while it kept where and when its attempt ran, which only
    // the final state's event needs (the concurrent runner's runs, which have no such record, take
    // 268 bytes).
    const report = await runCaller(50_000, 10_000, "kept");
    expect(report.perRun).toBeLessThan(420);
  }, 120_000);
});
