import { randomUUID } from "node:crypto";
import { describe, expect, it, vi } from "vitest";
import { createCoordinator } from "../../sdk/aws/coordinator/coordinator.js";
import { encodeHeartbeat, heartbeatKey } from "../../sdk/aws/record/heartbeat.js";
import { openRunKey } from "../../sdk/aws/record/open-runs.js";
import { readSegments, readSummary, segmentKey } from "../../sdk/aws/record/run-log.js";
import { TerminalIds } from "../../sdk/aws/record/terminal-ids.js";
import type { FlowReturned, Outcome } from "../../sdk/aws/wire/messages.js";
import { emulatorBucket } from "../support/records.js";
import { TestSigner } from "../support/signing.js";

const { store } = emulatorBucket("sweep");
/** Signs as the runs' callers and workers do, with keys in the coordinator's bucket. */
const signer = new TestSigner(store);

const completed = (flowRunId: string, taskRunId: string): Outcome => ({
  flowRunId,
  taskRunId,
  attempt: 1,
  status: "completed",
  serializer: "default",
  payload: { text: "J1" },
  endedAt: Date.now(),
  logs: [],
});

function notice(flowRunId: string, ids: string[], endedAt: number): FlowReturned {
  const sent = new TerminalIds();
  for (const id of ids) sent.add(id);
  return { flowRunId, flowName: "f", state: "Completed", tasks: ids.length, sent: sent.toJSON(), endedAt };
}

/** Message `n` of a batch: a worker's outcomes of one flow run, or a caller's notice; signed. */
const message = async (
  body: { outcomes: [Outcome, ...Outcome[]] } | { returned: FlowReturned },
  n: number,
) => ({
  messageId: `m${n}`,
  body:
    "returned" in body
      ? await signer.returnedBody(body.returned)
      : await signer.outcomesBody(body.outcomes[0].flowRunId, body.outcomes),
});

describe("the coordinator's sweep", () => {
  it("marks Crashed the runs with no outcome long after their flow returned, and the flow run final", async () => {
    const coordinator = createCoordinator({ store, overdueSeconds: 60 });
    const flowRunId = randomUUID();
    const ids = ["c0ffee-1", "c0ffee-2", "c0ffee-3"];
    await coordinator.handle({
      Records: [
        await message({ outcomes: [completed(flowRunId, "c0ffee-1")] }, 1),
        await message({ returned: notice(flowRunId, ids, Date.now() - 120_000) }, 2),
      ],
    });
    expect(await store.exists(openRunKey(flowRunId))).toBe(true);
    expect((await readSummary(store, flowRunId))?.state).toBeUndefined();

    await coordinator.handle({ squall: "sweep" });

    const summary = await readSummary(store, flowRunId);
    expect(summary?.state).toBe("Completed");
    expect(summary?.counts).toMatchObject({ completed: 1, crashed: 2 });
    const { segments } = await readSegments(store, flowRunId, 0);
    const crashed = segments.flatMap((s) => s.outcomes).filter((o) => o.status === "crashed");
    expect(crashed.map((o) => o.taskRunId).sort()).toEqual(["c0ffee-2", "c0ffee-3"]);
    expect(await store.exists(openRunKey(flowRunId))).toBe(false);
  });

  it("makes final a run whose last outcome is in a segment the summary never caught up with", async () => {
    const coordinator = createCoordinator({ store });
    const flowRunId = randomUUID();
    const returned = notice(flowRunId, ["d00d-1", "d00d-2"], Date.now());
    await coordinator.handle({
      Records: [
        await message({ outcomes: [completed(flowRunId, "d00d-1")] }, 1),
        await message({ returned }, 2),
      ],
    });
    // A coordinator that wrote the last outcome's segment and died before the summary:
    const orphan = { v: 2, outcomes: [completed(flowRunId, "d00d-2")] };
    await store.create(segmentKey(flowRunId, 1), new TextEncoder().encode(JSON.stringify(orphan)));

    expect(await coordinator.sweep()).toEqual({ swept: 0, callersSilent: 0 });

    expect(await readSummary(store, flowRunId)).toMatchObject({
      nextSegment: 2,
      state: "Completed",
      counts: { completed: 2, failed: 0, crashed: 0, cancelled: 0 },
      returned,
    });
    expect(await store.exists(openRunKey(flowRunId))).toBe(false);
  });

  it("leaves alone a run whose flow returned recently", async () => {
    const coordinator = createCoordinator({ store, overdueSeconds: 3600 });
    const flowRunId = randomUUID();
    await coordinator.handle({
      Records: [await message({ returned: notice(flowRunId, ["beef-1"], Date.now()) }, 1)],
    });

    const { swept } = await coordinator.sweep();

    expect(swept).toBe(0);
    expect((await readSummary(store, flowRunId))?.state).toBeUndefined();
    expect(await store.exists(openRunKey(flowRunId))).toBe(true);
  });

  it("keeps no marker for a run that is final when its notice comes, and removes one when the last outcome comes", async () => {
    const coordinator = createCoordinator({ store });
    const early = randomUUID();
    await coordinator.handle({
      Records: [
        await message({ outcomes: [completed(early, "abc-1")] }, 1),
        await message({ returned: notice(early, ["abc-1"], Date.now()) }, 2),
      ],
    });
    expect(await store.exists(openRunKey(early))).toBe(false);

    const late = randomUUID();
    await coordinator.handle({
      Records: [await message({ returned: notice(late, ["abd-1"], Date.now()) }, 1)],
    });
    expect(await store.exists(openRunKey(late))).toBe(true);
    await coordinator.handle({ Records: [await message({ outcomes: [completed(late, "abd-1")] }, 2)] });
    expect(await store.exists(openRunKey(late))).toBe(false);
    expect((await readSummary(store, late))?.state).toBe("Completed");
  });

  describe("of runs whose caller went silent", () => {
    const beatAt = Date.UTC(2026, 0, 2, 3, 4, 5);
    const beat = async (flowRunId: string, silentAfterSeconds: number, key?: Uint8Array) =>
      store.put(
        heartbeatKey(flowRunId),
        encodeHeartbeat(key ?? (await signer.keyOf(flowRunId)), {
          flowRunId,
          flowName: "fan-out",
          at: beatAt,
          silentAfterSeconds,
        }),
      );

    it("marks a run open with its first segment, and ends it Crashed once its heartbeat is older than its bound", async () => {
      const coordinator = createCoordinator({ store });
      const flowRunId = randomUUID();
      await beat(flowRunId, 60);
      await coordinator.handle({
        Records: [await message({ outcomes: [completed(flowRunId, "f00-1")] }, 1)],
      });
      expect(await store.exists(openRunKey(flowRunId))).toBe(true);

      expect(await coordinator.sweep(beatAt + 60_000)).toEqual({ swept: 0, callersSilent: 0 });
      expect((await readSummary(store, flowRunId))?.state).toBeUndefined();

      expect(await coordinator.sweep(beatAt + 60_001)).toEqual({ swept: 0, callersSilent: 1 });
      const summary = await readSummary(store, flowRunId);
      expect(summary).toMatchObject({
        nextSegment: 2,
        state: "Crashed",
        counts: { completed: 1, failed: 0, crashed: 0, cancelled: 0 },
        returned: {
          flowRunId,
          flowName: "fan-out",
          state: "Crashed",
          message:
            "The caller stopped at 2026-01-02T03:04:05.000Z: no heartbeat for 60 seconds. Task runs it had sent finish and are recorded; it sent no others.",
          tasks: 0,
          endedAt: beatAt,
        },
      });
      expect(await store.exists(openRunKey(flowRunId))).toBe(false);

      // A task run still out finishes and is recorded; the flow run stays Crashed.
      await coordinator.handle({
        Records: [await message({ outcomes: [completed(flowRunId, "f00-2")] }, 2)],
      });
      expect(await readSummary(store, flowRunId)).toMatchObject({
        state: "Crashed",
        counts: { completed: 2, failed: 0, crashed: 0, cancelled: 0 },
      });
      expect(await store.exists(openRunKey(flowRunId))).toBe(false);
    });

    it("repairs the summary of a run already final when a late outcome's writer died between its segment and the summary", async () => {
      const coordinator = createCoordinator({ store });
      const flowRunId = randomUUID();
      await beat(flowRunId, 60);
      await coordinator.handle({
        Records: [await message({ outcomes: [completed(flowRunId, "f04-1")] }, 1)],
      });
      expect(await coordinator.sweep(beatAt + 60_001)).toEqual({ swept: 0, callersSilent: 1 });
      expect(await store.exists(openRunKey(flowRunId))).toBe(false);

      // A task run still out reports; the coordinator writes its segment and dies before the summary.
      const dying = createCoordinator({
        store: {
          read: (key: string, etag?: string) => store.read(key, etag),
          create: (key: string, value: Uint8Array) => store.create(key, value),
          replace: (key: string, value: Uint8Array, etag: string) =>
            key.endsWith("/summary")
              ? Promise.reject(new Error("the instance died"))
              : store.replace(key, value, etag),
          list: (prefix: string) => store.list(prefix),
          delete: (key: string) => store.delete(key),
        },
      });
      const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
      const late = await dying.handle({
        Records: [await message({ outcomes: [completed(flowRunId, "f04-2")] }, 2)],
      });
      stderr.mockRestore();
      expect(late.batchItemFailures).toEqual([{ itemIdentifier: "m2" }]);
      expect((await readSegments(store, flowRunId, 0)).next).toBe(3);
      expect((await readSummary(store, flowRunId))?.nextSegment).toBe(2);
      expect(await store.exists(openRunKey(flowRunId))).toBe(true);

      // Its message is never delivered again (dead-lettered, say): the sweep repairs the summary.
      expect(await coordinator.sweep(beatAt + 60_001)).toEqual({ swept: 0, callersSilent: 0 });
      expect(await readSummary(store, flowRunId)).toMatchObject({
        nextSegment: 3,
        state: "Crashed",
        counts: { completed: 2, failed: 0, crashed: 0, cancelled: 0 },
      });
      expect(await store.exists(openRunKey(flowRunId))).toBe(false);
    });

    it("sweeps the other runs when the bucket fails for one, saying which and that the next sweep tries again", async () => {
      const [broken, silent] = [randomUUID(), randomUUID()];
      const coordinator = createCoordinator({ store });
      for (const [n, flowRunId] of [broken, silent].entries()) {
        await beat(flowRunId, 60);
        await coordinator.handle({
          Records: [await message({ outcomes: [completed(flowRunId, "f03-1")] }, n)],
        });
      }
      const failing = {
        read: (key: string, etag?: string) =>
          key.startsWith(`runs/${broken}/`)
            ? Promise.reject(new Error("503 Slow Down"))
            : store.read(key, etag),
        create: (key: string, value: Uint8Array) => store.create(key, value),
        replace: (key: string, value: Uint8Array, etag: string) => store.replace(key, value, etag),
        // Only these two runs' markers: other tests' runs are not this sweep's.
        list: async (prefix: string) =>
          (await store.list(prefix)).filter((key) => key.endsWith(broken) || key.endsWith(silent)),
        delete: (key: string) => store.delete(key),
      };
      const lines: string[] = [];
      const stderr = vi.spyOn(process.stderr, "write").mockImplementation((line) => {
        lines.push(String(line));
        return true;
      });

      const swept = await createCoordinator({ store: failing }).sweep(beatAt + 60_001);
      stderr.mockRestore();

      expect(swept).toEqual({ swept: 0, callersSilent: 1 });
      expect((await readSummary(store, silent))?.state).toBe("Crashed");
      expect((await readSummary(store, broken))?.state).toBeUndefined();
      expect(lines).toEqual([
        `squall coordinator: could not sweep flow run ${broken}, the next sweep tries again: 503 Slow Down\n`,
      ]);
      // The next sweep, with the bucket back, ends it too (and leaves no open run to the other tests).
      expect(await coordinator.sweep(beatAt + 60_001)).toEqual({ swept: 0, callersSilent: 1 });
      expect((await readSummary(store, broken))?.state).toBe("Crashed");
    });

    it("leaves a run alone whose heartbeat is not signed with its key", async () => {
      const coordinator = createCoordinator({ store });
      const flowRunId = randomUUID();
      await coordinator.handle({
        Records: [await message({ outcomes: [completed(flowRunId, "f01-1")] }, 1)],
      });
      await beat(flowRunId, 1, new Uint8Array(32));

      expect(await coordinator.sweep(beatAt + 3_600_000)).toEqual({ swept: 0, callersSilent: 0 });

      expect((await readSummary(store, flowRunId))?.state).toBeUndefined();
      expect(await store.exists(openRunKey(flowRunId))).toBe(true);
    });

    it("ends a run with no heartbeat by its open marker's age and the coordinator's bound", async () => {
      const coordinator = createCoordinator({ store, callerSilenceSeconds: 30 });
      const flowRunId = randomUUID();
      const before = Date.now();
      await coordinator.handle({
        Records: [await message({ outcomes: [completed(flowRunId, "f02-1")] }, 1)],
      });
      const markedAt = Number(
        new TextDecoder().decode((await store.get(openRunKey(flowRunId))) ?? undefined),
      );
      expect(markedAt).toBeGreaterThanOrEqual(before);

      expect(await coordinator.sweep(markedAt + 30_000)).toEqual({ swept: 0, callersSilent: 0 });
      expect(await coordinator.sweep(markedAt + 30_001)).toEqual({ swept: 0, callersSilent: 1 });

      expect(await readSummary(store, flowRunId)).toMatchObject({
        state: "Crashed",
        returned: {
          message: `The caller stopped at ${new Date(markedAt).toISOString()}: no heartbeat for 30 seconds. Task runs it had sent finish and are recorded; it sent no others.`,
        },
      });
    });
  });
});
