import { SquallError } from "squall";
import { describe, expect, it } from "vitest";
import {
  INVOKE_RESPONSE_LIMIT_BYTES,
  invokeAnswer,
  RESPONSE_SLACK_BYTES,
} from "../../sdk/aws/flow-runner/invoke-answer.js";
import { MemoryResultStore } from "../../sdk/storage/memory.js";
import { rejectionOf } from "../support/async.js";

const RUN = {
  flowRunId: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
  flowRunName: "brave-otter",
  flowName: "report",
  state: "Completed",
} as const;
const KEY = "runs/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/flow-result";

/** Characters of a string result whose answer takes exactly the most an answer may: 6 MB less the slack. */
const FITTING =
  INVOKE_RESPONSE_LIMIT_BYTES -
  RESPONSE_SLACK_BYTES -
  Buffer.byteLength(JSON.stringify({ ...RUN, result: "" }));

const storedText = async (store: MemoryResultStore, key: string) =>
  Buffer.from((await store.get(key)) as Uint8Array).toString("utf8");

describe("the flow-runner's answer for a completed run", () => {
  it("holds the result inline up to 6 MB of JSON less 1 KiB of slack, counting the whole answer", async () => {
    const store = new MemoryResultStore();
    const result = "x".repeat(FITTING);

    const answer = await invokeAnswer(RUN, result, { store: () => store });

    expect(INVOKE_RESPONSE_LIMIT_BYTES - RESPONSE_SLACK_BYTES).toBe(6 * 1024 * 1024 - 1024);
    expect(Buffer.byteLength(JSON.stringify(answer))).toBe(6 * 1024 * 1024 - 1024);
    expect(answer).toEqual({ ...RUN, result });
    expect(await store.list("runs/")).toEqual([]);
  });

  it("stores a result one byte over under the run's prefix and answers its key and size", async () => {
    const store = new MemoryResultStore();
    const result = "x".repeat(FITTING + 1);

    const answer = await invokeAnswer(RUN, result, { store: () => store });

    expect(answer).toEqual({ ...RUN, resultKey: KEY, size: FITTING + 3 });
    expect(await store.list("runs/")).toEqual([KEY]);
    expect(JSON.parse(await storedText(store, KEY))).toBe(result);
  });

  it("counts bytes, not characters", async () => {
    const store = new MemoryResultStore();
    const result = "é".repeat(Math.ceil((FITTING + 1) / 2)); // two bytes each in UTF-8

    const answer = await invokeAnswer(RUN, result, { store: () => store });

    expect(answer).toEqual({ ...RUN, resultKey: KEY, size: Buffer.byteLength(JSON.stringify(result)) });
    expect(JSON.parse(await storedText(store, KEY))).toBe(result);
  });

  it("keeps any JSON value whole, and opens the store only when a result does not fit", async () => {
    let opened = 0;
    const store = new MemoryResultStore();
    const open = () => {
      opened += 1;
      return store;
    };
    const rows = Array.from({ length: 40 }, (_, i) => ({ id: i, label: `row ${i}` }));

    expect(await invokeAnswer(RUN, rows, { store: open, maxResponseBytes: 64 * 1024 })).toEqual({
      ...RUN,
      result: rows,
    });
    expect(opened).toBe(0);
    const answer = await invokeAnswer(RUN, rows, { store: open, maxResponseBytes: 2 * 1024 });
    expect(answer).toEqual({ ...RUN, resultKey: KEY, size: Buffer.byteLength(JSON.stringify(rows)) });
    expect(opened).toBe(1);
    expect(JSON.parse(await storedText(store, KEY))).toEqual(rows);
  });

  it("refuses a result too large to answer when it has nowhere to store it, saying what to do", async () => {
    const error = await rejectionOf(invokeAnswer(RUN, "x".repeat(4096), { maxResponseBytes: 2048 }));

    expect(error).toBeInstanceOf(SquallError);
    expect(error.message).toBe(
      "Flow run 'brave-otter' (0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0) Completed, but its result (4098 bytes of JSON) is more than a Lambda invocation may answer, and the flow-runner has no bucket to store it in: give it the stack's SQUALL_* variables, or return a smaller result (a key to where the data is).",
    );
  });
});
