import { describe, expect, it } from "vitest";
import { type RecordStore, segmentKey, summaryKey } from "../../sdk/aws/record/run-log.js";
import { BucketRecordReader } from "../../sdk/aws/records/bucket-record.js";
import { readOn } from "../../sdk/aws/records/bucket-runs.js";
import { type Outcome, WIRE_VERSION } from "../../sdk/aws/wire/messages.js";
import type { RunEvent } from "../../sdk/observe.js";
import type { PrintLine } from "../../sdk/records/record.js";
import { encodeError } from "../../sdk/remote/attempt.js";
import { outcome, taskRunIdOf } from "../support/records.js";

const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

const ran = (n: number) => ({ ...outcome("run", n), startedAt: n - 1 });

describe("reading a deployed run's record", () => {
  it("reads the segments written between its segment reads and its final summary", async () => {
    const objects = new Map<string, Uint8Array>([
      [segmentKey("run", 0), encode({ v: WIRE_VERSION, outcomes: [ran(1)] })],
    ]);
    const final = {
      v: WIRE_VERSION,
      nextSegment: 2,
      counts: { completed: 2, failed: 0, crashed: 0, cancelled: 0 },
      terminal: { ranges: {}, others: [] },
      returned: { flowRunId: "run", flowName: "f", state: "Completed", tasks: 2, endedAt: 9 },
      state: "Completed",
    };
    const store: RecordStore = {
      async read(key) {
        if (key === summaryKey("run")) {
          // The coordinator writes the last segment, then the final summary, just as it is read.
          objects.set(segmentKey("run", 1), encode({ v: WIRE_VERSION, outcomes: [ran(2)] }));
          return { bytes: encode(final), etag: "1" };
        }
        const bytes = objects.get(key);
        return bytes && { bytes, etag: "1" };
      },
      create: async () => true,
      replace: async () => true,
    };
    const read = await readOn(store, "run", new BucketRecordReader("run"), 0);
    expect(read.final).toBe(true);
    expect(read.next).toBe(2);
    const tasks = read.lines.filter((line) => line.kind === "task" && line.state === "Completed");
    expect(tasks.map((line) => (line as { id: string }).id)).toEqual([taskRunIdOf(1), taskRunIdOf(2)]);
    expect(read.lines.at(-1)).toMatchObject({ kind: "flow", state: "Completed" });
  });

  it("keeps a run's final state when an earlier attempt's outcome comes after it, showing its output", () => {
    const attempt = (n: number, status: Outcome["status"]): Outcome => ({
      ...ran(1),
      attempt: n,
      status,
      logs: [{ stream: "stdout", text: `attempt ${n} ran` }],
    });
    const reader = new BucketRecordReader("run");

    const lines = reader.segment({
      v: WIRE_VERSION,
      outcomes: [attempt(1, "retrying"), attempt(3, "completed"), attempt(2, "retrying")],
    });

    const states = lines.filter((line) => line.kind === "task" && line.state !== "Running");
    expect(states.map((line) => [(line as RunEvent).state, (line as RunEvent).attempts])).toEqual([
      ["AwaitingRetry", 1],
      ["Completed", 3],
    ]);
    const prints = lines.filter((line) => line.kind === "print").map((line) => (line as PrintLine).text);
    expect(prints).toEqual(["attempt 1 ran", "attempt 3 ran", "attempt 2 ran"]);
  });

  it("says where the whole of an error cut short is stored", () => {
    const key = "runs/run/results/t-1-0a1b2c3d";
    const failed = (message: string): Outcome => ({
      ...ran(1),
      status: "failed",
      payload: {
        text: new TextDecoder().decode(encodeError(new RangeError(message))),
        stored: { key, size: 9 },
      },
    });
    const errorIn = (outcome: Outcome) => {
      const lines = new BucketRecordReader("run").segment({ v: WIRE_VERSION, outcomes: [outcome] });
      return (lines.find((line) => line.kind === "task" && line.state === "Failed") as RunEvent).error;
    };

    expect(errorIn(failed("too big..."))).toMatchObject({
      name: "RangeError",
      message: `too big... (cut short; the whole error is stored at ${key})`,
    });
    const named = `too big... (the whole error is stored at ${key})`;
    expect(errorIn(failed(named))).toMatchObject({ name: "RangeError", message: named });
  });
});
