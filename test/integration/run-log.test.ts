import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  appendOutcomes,
  type RecordStore,
  type RunSummary,
  readSegments,
  repairSummary,
  segmentKey,
  summaryKey,
} from "../../sdk/aws/record/run-log.js";
import { TerminalIds } from "../../sdk/aws/record/terminal-ids.js";
import type { FlowReturned, Outcome } from "../../sdk/aws/wire/messages.js";
import { emulatorBucket, outcome } from "../support/records.js";

const { store } = emulatorBucket("squall-runlog");

async function recorded(flowRunId: string) {
  const { segments, next } = await readSegments(store, flowRunId, 0);
  const outcomes = segments.flatMap((segment) => segment.outcomes);
  const final = outcomes.filter((o) => o.status !== "retrying").map((o) => o.taskRunId);
  return { segments: next, outcomes, final };
}

/** Task run 1's outcome of attempt `n`, in `status`. */
function attempt(flowRunId: string, n: number, status: Outcome["status"]): Outcome {
  return { ...outcome(flowRunId, 1, status), attempt: n };
}

/** The attempts of the record's outcomes, in the order written, with their statuses. */
async function attemptsOf(flowRunId: string) {
  return (await recorded(flowRunId)).outcomes.map((o) => [o.attempt, o.status]);
}

/** The caller's notice that the flow returned having sent task runs 1 to `tasks`. */
function notice(flowRunId: string, tasks: number): FlowReturned {
  const sent = new TerminalIds();
  for (let n = 1; n <= tasks; n++) sent.add(`abc123-${n.toString(36)}`);
  return { flowRunId, flowName: "f", state: "Completed", tasks, sent: sent.toJSON(), endedAt: 0 };
}

async function summaryOf(flowRunId: string): Promise<RunSummary> {
  const found = await store.read(summaryKey(flowRunId));
  if (!found || found === "unchanged") throw new Error("no summary");
  return JSON.parse(new TextDecoder().decode(found.bytes)) as RunSummary;
}

describe("the record of a flow run", () => {
  it("appends outcomes as segments that readers read in order", async () => {
    const run = randomUUID();
    expect(await appendOutcomes(store, run, [outcome(run, 1), outcome(run, 2)])).toBe(2);
    expect(await appendOutcomes(store, run, [outcome(run, 3, "failed")])).toBe(1);

    const { segments, final } = await recorded(run);
    expect(segments).toBe(2);
    expect(final).toEqual(["abc123-1", "abc123-2", "abc123-3"]);
    const summary = await summaryOf(run);
    expect(summary.counts).toEqual({ completed: 2, failed: 1, crashed: 0, cancelled: 0 });
    expect(summary.nextSegment).toBe(2);
    expect(summary.terminal.ranges).toEqual({ abc123: [[1, 3]] });
  });

  it("records a redelivered outcome once", async () => {
    const run = randomUUID();
    await appendOutcomes(store, run, [outcome(run, 1)]);
    expect(await appendOutcomes(store, run, [outcome(run, 1), outcome(run, 1)])).toBe(0);

    expect((await recorded(run)).final).toEqual(["abc123-1"]);
  });

  it("keeps retry notices but only the first final outcome of a run", async () => {
    const run = randomUUID();
    await appendOutcomes(store, run, [
      outcome(run, 1, "retrying"),
      outcome(run, 1, "completed"),
      outcome(run, 1, "failed"),
    ]);

    const { outcomes } = await recorded(run);
    expect(outcomes.map((o) => o.status)).toEqual(["retrying", "completed"]);
  });

  // A worker queues a retry before it reports the attempt that failed, so the next attempt's
  // outcome can come first, even make the run final.
  it("records an earlier attempt's outcome that comes after the run's final one, once, without counting it", async () => {
    const run = randomUUID();
    await appendOutcomes(store, run, [attempt(run, 1, "retrying")]);
    await appendOutcomes(store, run, [attempt(run, 3, "completed")]);

    expect(await appendOutcomes(store, run, [attempt(run, 2, "retrying"), attempt(run, 2, "retrying")])).toBe(
      1,
    );
    // Repeats of any attempt, and attempts after the final one, are dropped.
    const repeats = [1, 2, 3, 4].map((n) => attempt(run, n, n === 3 ? "completed" : "retrying"));
    expect(await appendOutcomes(store, run, repeats)).toBe(0);

    expect(await attemptsOf(run)).toEqual([
      [1, "retrying"],
      [3, "completed"],
      [2, "retrying"],
    ]);
    expect((await summaryOf(run)).counts).toEqual({ completed: 1, failed: 0, crashed: 0, cancelled: 0 });
  });

  it("keeps an earlier attempt's outcome that follows the final one in the same batch, even a final status", async () => {
    const run = randomUUID();
    // Attempt 2 crashed (its message dead-lettered) after it had queued attempt 3.
    const batch = [attempt(run, 1, "retrying"), attempt(run, 3, "completed"), attempt(run, 2, "crashed")];

    expect(await appendOutcomes(store, run, batch)).toBe(3);

    expect(await attemptsOf(run)).toEqual([
      [1, "retrying"],
      [3, "completed"],
      [2, "crashed"],
    ]);
    expect((await summaryOf(run)).counts).toEqual({ completed: 1, failed: 0, crashed: 0, cancelled: 0 });
  });

  it("drops a redelivered report of an attempt before the run is final", async () => {
    const run = randomUUID();
    await appendOutcomes(store, run, [attempt(run, 1, "retrying")]);

    expect(
      await appendOutcomes(store, run, [attempt(run, 1, "retrying"), attempt(run, 2, "completed")]),
    ).toBe(1);

    expect(await attemptsOf(run)).toEqual([
      [1, "retrying"],
      [2, "completed"],
    ]);
  });

  it("gives every task exactly one final outcome when many writers race with duplicates", async () => {
    const run = randomUUID();
    const writers = Array.from({ length: 12 }, (_, w) =>
      appendOutcomes(
        store,
        run,
        Array.from({ length: 20 }, (_, i) => outcome(run, (w * 7 + i) % 60)),
      ),
    );
    const written = (await Promise.all(writers)).reduce((a, b) => a + b, 0);

    const { final, segments } = await recorded(run);
    expect(final.length).toBe(new Set(final).size); // no task twice
    expect(new Set(final).size).toBe(written);
    const expected = new Set(
      Array.from(
        { length: 12 * 20 },
        (_, k) => `abc123-${((Math.floor(k / 20) * 7 + (k % 20)) % 60).toString(36)}`,
      ),
    );
    expect(new Set(final)).toEqual(expected);
    // The summary says exactly what the segments say: every segment, each task once.
    const summary = await summaryOf(run);
    expect(summary.nextSegment).toBe(segments);
    expect(summary.counts).toEqual({ completed: 60, failed: 0, crashed: 0, cancelled: 0 });
    expect(new Set(TerminalIds.fromJSON(summary.terminal).ids())).toEqual(expected);
  });

  it("repairs after a writer died between its segment and the summary", async () => {
    const run = randomUUID();
    await appendOutcomes(store, run, [outcome(run, 1)]);
    // A writer that created segment 1 and died before updating the summary:
    const orphan = { v: 1, outcomes: [outcome(run, 2)] };
    expect(await store.create(segmentKey(run, 1), new TextEncoder().encode(JSON.stringify(orphan)))).toBe(
      true,
    );

    // Its outcome alone is redelivered: nothing new to write, but the summary must catch up.
    expect(await appendOutcomes(store, run, [outcome(run, 2)])).toBe(0);

    expect((await recorded(run)).final).toEqual(["abc123-1", "abc123-2"]);
    const summary = await summaryOf(run);
    expect(summary.nextSegment).toBe(2);
    expect(summary.counts).toEqual({ completed: 2, failed: 0, crashed: 0, cancelled: 0 });
  });

  it("makes the summary final when the writer of the last outcome died before it, on that outcome's redelivery", async () => {
    const run = randomUUID();
    await appendOutcomes(store, run, [outcome(run, 1)], notice(run, 2));
    const orphan = { v: 2, outcomes: [outcome(run, 2)] };
    await store.create(segmentKey(run, 1), new TextEncoder().encode(JSON.stringify(orphan)));
    expect((await summaryOf(run)).state).toBeUndefined();

    expect(await appendOutcomes(store, run, [outcome(run, 2)])).toBe(0);

    expect(await summaryOf(run)).toMatchObject({
      nextSegment: 2,
      state: "Completed",
      counts: { completed: 2, failed: 0, crashed: 0, cancelled: 0 },
    });
  });

  it("makes the summary final when its write failed after the segment was written", async () => {
    const run = randomUUID();
    await appendOutcomes(store, run, [outcome(run, 1)], notice(run, 3));
    // S3 applied the PUT but its answer was lost: the writer sees an error after the write.
    const lostAnswer: RecordStore = {
      read: (key, etag) => store.read(key, etag),
      create: (key, value) => store.create(key, value),
      replace: async (key, value, etag) => {
        await store.replace(key, value, etag);
        throw new Error("socket hang up");
      },
    };
    await expect(appendOutcomes(lostAnswer, run, [outcome(run, 2)])).rejects.toThrow("socket hang up");
    const failing: RecordStore = { ...lostAnswer, replace: () => Promise.reject(new Error("503")) };
    await expect(appendOutcomes(failing, run, [outcome(run, 3)])).rejects.toThrow("503");
    expect((await summaryOf(run)).state).toBeUndefined();

    // Both outcomes come back (their batches failed): the summary ends final and exact.
    expect(await appendOutcomes(store, run, [outcome(run, 2), outcome(run, 3)])).toBe(0);

    expect(await summaryOf(run)).toMatchObject({
      nextSegment: 3,
      state: "Completed",
      counts: { completed: 3, failed: 0, crashed: 0, cancelled: 0 },
    });
  });

  it("repairs a summary from its segments alone", async () => {
    const run = randomUUID();
    const segment = (outcomes: Outcome[], returned?: FlowReturned) =>
      new TextEncoder().encode(JSON.stringify(returned ? { v: 2, outcomes, returned } : { v: 2, outcomes }));
    await store.create(segmentKey(run, 0), segment([outcome(run, 1)]));
    await store.create(segmentKey(run, 1), segment([outcome(run, 2, "failed")], notice(run, 2)));

    const { summary, becameFinal } = await repairSummary(store, run);

    expect(becameFinal).toBe(true);
    expect(summary).toEqual(await summaryOf(run));
    expect(await summaryOf(run)).toMatchObject({
      nextSegment: 2,
      state: "Completed",
      counts: { completed: 1, failed: 1, crashed: 0, cancelled: 0 },
    });
    expect(await repairSummary(store, run)).toEqual({ summary: await summaryOf(run), becameFinal: false });
  });

  it("keeps a late earlier attempt after repairing from a writer that died having made the run final", async () => {
    const run = randomUUID();
    await appendOutcomes(store, run, [attempt(run, 1, "retrying")]);
    const orphan = { v: 1, outcomes: [attempt(run, 3, "completed")] };
    await store.create(segmentKey(run, 1), new TextEncoder().encode(JSON.stringify(orphan)));

    expect(
      await appendOutcomes(store, run, [attempt(run, 2, "retrying"), attempt(run, 3, "completed")]),
    ).toBe(1);

    expect(await attemptsOf(run)).toEqual([
      [1, "retrying"],
      [3, "completed"],
      [2, "retrying"],
    ]);
    expect((await summaryOf(run)).counts.completed).toBe(1);
  });

  it("answers an unchanged summary with a bodiless 304", async () => {
    const run = randomUUID();
    await appendOutcomes(store, run, [outcome(run, 1)]);
    const first = await store.read(summaryKey(run));
    if (!first || first === "unchanged") throw new Error("no summary");

    expect(await store.read(summaryKey(run), first.etag)).toBe("unchanged");
    await appendOutcomes(store, run, [outcome(run, 2)]);
    expect(await store.read(summaryKey(run), first.etag)).not.toBe("unchanged");
  });
});
