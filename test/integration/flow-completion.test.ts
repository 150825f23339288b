import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createCoordinator } from "../../sdk/aws/coordinator/coordinator.js";
import {
  appendOutcomes,
  type RecordStore,
  readSegments,
  readSummary,
  segmentKey,
  summaryKey,
} from "../../sdk/aws/record/run-log.js";
import { type FlowReturned, type Outcome, WIRE_VERSION } from "../../sdk/aws/wire/messages.js";
import { gate } from "../support/async.js";
import { emulatorBucket, outcome, taskRunIdOf } from "../support/records.js";
import { TestSigner } from "../support/signing.js";

// A flow run is final in its record once the caller's notice that the flow function returned has
// come and as many task runs as it says it sent are final, in whichever order the two arrive.
const { store } = emulatorBucket("squall-completion");
/** Signs as the run's caller and workers do, with keys in the coordinator's bucket. */
const signer = new TestSigner(store);

function notice(flowRunId: string, tasks: number, state: FlowReturned["state"] = "Completed"): FlowReturned {
  return { flowRunId, flowName: "fan-out", state, tasks, endedAt: 1_700_000_000_000 };
}

async function summaryOf(flowRunId: string) {
  const summary = await readSummary(store, flowRunId);
  if (!summary) throw new Error(`no summary for ${flowRunId}`);
  return summary;
}

/** The notices the record's segments hold. */
async function noticesOf(flowRunId: string): Promise<FlowReturned[]> {
  const { segments } = await readSegments(store, flowRunId, 0);
  return segments.flatMap((segment) => (segment.returned ? [segment.returned] : []));
}

describe("flow completion in the record", () => {
  it("gives the summary no state before any notice, however many outcomes", async () => {
    const run = randomUUID();
    await appendOutcomes(store, run, [outcome(run, 1), outcome(run, 2)]);

    const summary = await summaryOf(run);
    expect(summary.counts.completed).toBe(2);
    expect(summary.returned).toBeUndefined();
    expect(summary.state).toBeUndefined();
  });

  it("marks the run final when the notice comes first and the last outcome later", async () => {
    const run = randomUUID();
    const returned = notice(run, 3);

    expect(await appendOutcomes(store, run, [], returned)).toBe(0);
    expect((await summaryOf(run)).returned).toEqual(returned);
    expect((await summaryOf(run)).state).toBeUndefined();
    await appendOutcomes(store, run, [outcome(run, 1), outcome(run, 2)]);
    expect((await summaryOf(run)).state).toBeUndefined();
    await appendOutcomes(store, run, [outcome(run, 3, "failed")]);

    expect(await summaryOf(run)).toMatchObject({
      state: "Completed",
      returned,
      counts: { completed: 2, failed: 1 },
    });
  });

  it("marks the run final when all outcomes come first and the notice later", async () => {
    const run = randomUUID();
    await appendOutcomes(store, run, [outcome(run, 1), outcome(run, 2, "crashed")]);
    expect((await summaryOf(run)).state).toBeUndefined();

    await appendOutcomes(store, run, [], notice(run, 2, "Failed"));

    expect((await summaryOf(run)).state).toBe("Failed");
    expect(await noticesOf(run)).toEqual([notice(run, 2, "Failed")]); // the notice has a segment too
  });

  it("marks the run final when the notice and the last outcome come together", async () => {
    const run = randomUUID();
    await appendOutcomes(store, run, [outcome(run, 1)]);

    await appendOutcomes(store, run, [outcome(run, 2)], notice(run, 2));

    expect((await summaryOf(run)).state).toBe("Completed");
    expect((await readSegments(store, run, 0)).next).toBe(2);
  });

  it("counts a cancelled outcome as final", async () => {
    const run = randomUUID();
    await appendOutcomes(store, run, [], notice(run, 2, "Cancelled"));
    await appendOutcomes(store, run, [outcome(run, 1), outcome(run, 2, "cancelled")]);

    expect(await summaryOf(run)).toMatchObject({
      state: "Cancelled",
      counts: { completed: 1, cancelled: 1 },
    });
  });

  it("counts neither retrying outcomes nor redelivered ones toward the task runs sent", async () => {
    const run = randomUUID();
    await appendOutcomes(store, run, [], notice(run, 2));

    await appendOutcomes(store, run, [outcome(run, 1, "retrying"), outcome(run, 2, "retrying")]);
    await appendOutcomes(store, run, [outcome(run, 1)]);
    await appendOutcomes(store, run, [outcome(run, 1)]); // delivered again
    expect((await summaryOf(run)).state).toBeUndefined();

    await appendOutcomes(store, run, [outcome(run, 2)]);
    expect((await summaryOf(run)).state).toBe("Completed");
  });

  it("marks a run that sent no task runs final on its notice", async () => {
    const run = randomUUID();
    await appendOutcomes(store, run, [], notice(run, 0));

    expect((await summaryOf(run)).state).toBe("Completed");
  });

  it("records a repeated notice once, and a later one does not change the state", async () => {
    const run = randomUUID();
    const first = notice(run, 1, "Completed");
    await appendOutcomes(store, run, [outcome(run, 1)], first);

    expect(await appendOutcomes(store, run, [], first)).toBe(0);
    expect(await appendOutcomes(store, run, [], notice(run, 1, "Failed"))).toBe(0);

    expect(await noticesOf(run)).toEqual([first]);
    expect((await readSegments(store, run, 0)).next).toBe(1);
    expect(await summaryOf(run)).toMatchObject({ state: "Completed", returned: first });
  });

  it("marks the run final when the notice and the last outcome are appended by racing coordinators", async () => {
    const run = randomUUID();
    await appendOutcomes(store, run, [outcome(run, 1)]);
    // Forces one interleaving of two writers: A (the notice) wins segment 1, B (the last outcome) loses it,
    // reads the summary before A has replaced it, writes segment 2, and replaces the summary after A.
    const bReadSummary = gate();
    const aCreated = gate();
    const bCreated = gate();
    const aReplaced = gate();
    let bReads = 0;
    const writerA: RecordStore = {
      read: (key, etag) => store.read(key, etag),
      create: async (key, value) => {
        await bReadSummary.promise;
        const created = await store.create(key, value);
        aCreated.open();
        return created;
      },
      replace: async (key, value, etag) => {
        await bCreated.promise;
        const replaced = await store.replace(key, value, etag);
        aReplaced.open();
        return replaced;
      },
    };
    const writerB: RecordStore = {
      read: async (key, etag) => {
        const found = await store.read(key, etag);
        if (key === summaryKey(run) && ++bReads === 1) bReadSummary.open();
        return found;
      },
      create: async (key, value) => {
        if (key === segmentKey(run, 1)) await aCreated.promise;
        const created = await store.create(key, value);
        if (key === segmentKey(run, 2)) bCreated.open();
        return created;
      },
      replace: async (key, value, etag) => {
        await aReplaced.promise;
        return store.replace(key, value, etag);
      },
    };

    await Promise.all([
      appendOutcomes(writerA, run, [], notice(run, 2)),
      appendOutcomes(writerB, run, [outcome(run, 2)]),
    ]);

    // The segments hold the notice and both outcomes: the run is final.
    const { segments } = await readSegments(store, run, 0);
    expect(segments.map((s) => [s.outcomes.map((o) => o.taskRunId), s.returned !== undefined])).toEqual([
      [[taskRunIdOf(1)], false],
      [[], true],
      [[taskRunIdOf(2)], false],
    ]);
    expect(await summaryOf(run)).toMatchObject({
      nextSegment: 3,
      state: "Completed",
      counts: { completed: 2, failed: 0, crashed: 0, cancelled: 0 },
      returned: notice(run, 2),
    });
  });
});

describe("the coordinator and the flow-returned notice", () => {
  const returnedBody = (returned: FlowReturned) => signer.returnedBody(returned);
  const outcomesBody = (flowRunId: string, outcomes: Outcome[]) => signer.outcomesBody(flowRunId, outcomes);

  it("records a notice from the completion queue, and marks the run final once its outcomes follow", async () => {
    const coordinator = createCoordinator({ store });
    const run = randomUUID();
    const returned = notice(run, 2, "Completed");

    const first = await coordinator.handle({
      Records: [{ messageId: "n", body: await returnedBody(returned) }],
    });
    expect(first.batchItemFailures).toEqual([]);
    expect((await summaryOf(run)).returned).toEqual(returned);
    expect((await summaryOf(run)).state).toBeUndefined();

    await coordinator.handle({
      Records: [{ messageId: "o", body: await outcomesBody(run, [outcome(run, 1), outcome(run, 2)]) }],
    });
    expect((await summaryOf(run)).state).toBe("Completed");
  });

  it("marks the run final when the notice follows the outcomes", async () => {
    const coordinator = createCoordinator({ store });
    const run = randomUUID();

    await coordinator.handle({
      Records: [
        { messageId: "o", body: await outcomesBody(run, [outcome(run, 1), outcome(run, 2, "cancelled")]) },
      ],
    });
    expect((await summaryOf(run)).state).toBeUndefined();
    await coordinator.handle({
      Records: [{ messageId: "n", body: await returnedBody(notice(run, 2, "Cancelled")) }],
    });

    expect((await summaryOf(run)).state).toBe("Cancelled");
  });

  it("takes a notice and outcomes of one batch into one segment, a repeated notice once", async () => {
    const coordinator = createCoordinator({ store });
    const run = randomUUID();
    const returned = notice(run, 1, "Failed");

    const response = await coordinator.handle({
      Records: [
        { messageId: "n1", body: await returnedBody(returned) },
        { messageId: "o", body: await outcomesBody(run, [outcome(run, 1, "failed")]) },
        { messageId: "n2", body: await returnedBody(returned) }, // delivered again
      ],
    });
    await coordinator.handle({ Records: [{ messageId: "n3", body: await returnedBody(returned) }] }); // and again

    expect(response.batchItemFailures).toEqual([]);
    expect((await readSegments(store, run, 0)).next).toBe(1);
    expect(await noticesOf(run)).toEqual([returned]);
    expect(await summaryOf(run)).toMatchObject({ state: "Failed", counts: { failed: 1 } });
  });

  it("drops a malformed notice without failing the batch or marking the run", async () => {
    const coordinator = createCoordinator({ store });
    const run = randomUUID();
    const { tasks: _tasks, ...withoutCount } = notice(run, 0);
    // Signed with the run's key, so it is read, and found not to fit its schema.
    const body = await signer.sign(
      "completions",
      run,
      JSON.stringify({ v: WIRE_VERSION, flowRunId: run, returned: withoutCount }),
    );

    const response = await coordinator.handle({ Records: [{ messageId: "bad", body }] });

    expect(response.batchItemFailures).toEqual([]);
    expect(await readSummary(store, run)).toBeUndefined();
    expect(coordinator.rejected()).toEqual({ malformed: 1 });
  });
});
