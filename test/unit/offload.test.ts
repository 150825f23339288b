import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  configureLogging,
  FileResultStore,
  flow,
  getRunContext,
  InvalidArgumentError,
  MemoryResultStore,
  resetLogging,
  ThreadPoolTaskRunner,
} from "squall";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { describeArgs, makeBlob, measure } from "../fixtures/payload-tasks.js";

/** A FileResultStore that counts what this thread reads; worker threads open their own. */
class CountingStore extends FileResultStore {
  gets = 0;
  override async get(key: string) {
    this.gets += 1;
    return super.get(key);
  }
}

let folder: string;
let store: CountingStore;
let runner: ThreadPoolTaskRunner;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "squall-offload-"));
  store = new CountingStore(folder);
  runner = new ThreadPoolTaskRunner({ maxWorkers: 2, offloadStore: store, offloadAboveBytes: 1_000 });
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});
beforeEach(() => configureLogging({ write: () => {} }));
afterEach(() => resetLogging());

describe("payloads above the threshold travel by reference", () => {
  it("passes a large stored result to a downstream thread task without the flow reading it", async () => {
    const byReference = flow({ taskRunner: runner }, async function byReference() {
      const blob = makeBlob.submit(5_000);
      const length = await measure.submit(blob).result();
      const readsBefore = store.gets;
      const value = await blob.result();
      return {
        length,
        readsBefore,
        readsAfter: store.gets,
        valueLength: value.length,
        flowRunId: getRunContext().flowRun.id,
      };
    });

    const outcome = await byReference();

    expect(outcome.length).toBe(5_000);
    expect(outcome.readsBefore).toBe(0); // the downstream thread read it, not the flow
    expect(outcome.valueLength).toBe(5_000);
    expect(outcome.readsAfter).toBe(1); // result() in the flow reads it once
    const keys = await store.list(`runs/${outcome.flowRunId}/`);
    expect(keys.filter((key) => key.includes("/results/"))).toHaveLength(1);
  });

  it("stores large arguments under the run and sends small ones inline", async () => {
    const largeArgs = flow({ taskRunner: runner }, async function largeArgs() {
      const large = await describeArgs.submit("y".repeat(3_000), 7).result();
      const small = await describeArgs.submit("y".repeat(10), 8).result();
      return { large, small, flowRunId: getRunContext().flowRun.id };
    });

    const { large, small, flowRunId } = await largeArgs();

    expect(large).toBe("3000:7");
    expect(small).toBe("10:8");
    const payloads = (await store.list(`runs/${flowRunId}/`)).filter((key) => key.includes("/payloads/"));
    expect(payloads).toHaveLength(1);
  });

  it("refuses an offload store other threads cannot open", () => {
    expect(() => new ThreadPoolTaskRunner({ offloadStore: new MemoryResultStore() })).toThrow(
      InvalidArgumentError,
    );
    expect(() => new ThreadPoolTaskRunner({ offloadAboveBytes: -1 })).toThrow(
      "Expected `offloadAboveBytes` to be an integer >= 0, got `-1`",
    );
  });
});
