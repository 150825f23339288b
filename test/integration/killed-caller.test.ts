import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import { type LocalEnvironment, S3ResultStore, startLocalEnvironment } from "squall/aws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCoordinator } from "../../sdk/aws/coordinator/coordinator.js";
import {
  DEFAULT_SILENT_AFTER_SECONDS,
  decodeHeartbeat,
  heartbeatKey,
} from "../../sdk/aws/record/heartbeat.js";
import { openRunKey } from "../../sdk/aws/record/open-runs.js";
import { readSegments, readSummary } from "../../sdk/aws/record/run-log.js";
import { BucketRecordReader } from "../../sdk/aws/records/bucket-record.js";
import { readOn, summarize } from "../../sdk/aws/records/bucket-runs.js";
import { readRunKey } from "../../sdk/aws/wire/run-key.js";
import { startCaller } from "../support/local-environment.js";

const CALLER = new URL("../fixtures/killed-caller-flow.ts", import.meta.url);
const TASKS = 8;

let local: LocalEnvironment;
let store: S3ResultStore;

beforeAll(async () => {
  local = await startLocalEnvironment({ workers: 2, batchSize: 1 });
  const { bucket, endpoint, region } = local.address;
  store = new S3ResultStore({ bucket, endpoint, region });
});
afterAll(() => local?.stop());

/** Resolves once the record holds `count` completed outcomes of the run (the fleet finished). */
async function fleetFinished(flowRunId: string, count: number): Promise<void> {
  for (;;) {
    const { segments } = await readSegments(store, flowRunId, 0);
    const completed = segments.flatMap((s) => s.outcomes).filter((o) => o.status === "completed");
    if (completed.length >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("a caller killed halfway through its flow", () => {
  it("has its flow run ended Crashed by the sweep once its heartbeat is older than the default bound", async () => {
    const gate = join(await mkdtemp(join(tmpdir(), "squall-killed-caller-")), "gate");
    const caller = startCaller(local, CALLER, [String(TASKS), gate]);
    const lines = await caller.lines((line) => line === `result ${TASKS / 2 - 1}`);
    caller.child.kill("SIGKILL");
    await writeFile(gate, "");
    const flowRunId = (lines.find((line) => line.startsWith("flow run ")) ?? "").slice("flow run ".length);
    expect(lines.filter((line) => line.startsWith("result "))).toEqual(
      Array.from({ length: TASKS / 2 }, (_, n) => `result ${n}`),
    );

    // The fleet finishes every task run; nothing ends the flow run.
    await fleetFinished(flowRunId, TASKS);
    expect(await store.exists(openRunKey(flowRunId))).toBe(true);
    expect((await readSummary(store, flowRunId))?.state).toBeUndefined();

    const runKey = await readRunKey((key) => store.get(key), flowRunId);
    const beatBytes = await store.get(heartbeatKey(flowRunId));
    const beat = runKey && beatBytes && decodeHeartbeat(runKey.key, flowRunId, beatBytes);
    if (!beat) throw new Error("the caller wrote no heartbeat signed with its run's key");
    expect(beat.silentAfterSeconds).toBe(DEFAULT_SILENT_AFTER_SECONDS);

    const coordinator = createCoordinator({ store });
    const bound = DEFAULT_SILENT_AFTER_SECONDS * 1000;
    expect(await coordinator.sweep(beat.at + bound)).toEqual({ swept: 0, callersSilent: 0 });
    expect(await coordinator.sweep(beat.at + bound + 1)).toEqual({ swept: 0, callersSilent: 1 });

    const summary = await readSummary(store, flowRunId);
    expect(summary).toMatchObject({
      state: "Crashed",
      counts: { completed: TASKS, failed: 0, crashed: 0, cancelled: 0 },
      returned: {
        flowRunId,
        flowName: "squares",
        state: "Crashed",
        message: `The caller stopped at ${new Date(beat.at).toISOString()}: no heartbeat for ${DEFAULT_SILENT_AFTER_SECONDS} seconds. Task runs it had sent finish and are recorded; it sent no others.`,
        tasks: 0,
        endedAt: beat.at,
      },
    });
    const { next } = await readSegments(store, flowRunId, 0);
    expect(summary?.nextSegment).toBe(next);
    expect(await store.exists(openRunKey(flowRunId))).toBe(false);

    // `squall runs`, `squall show` and the dashboard read it so.
    const reason = { name: "CrashedError", message: summary?.returned?.message };
    expect(await summarize(store, flowRunId)).toMatchObject({
      flowName: "squares",
      state: "Crashed",
      error: reason,
    });
    const { lines: read, final } = await readOn(store, flowRunId, new BucketRecordReader(flowRunId), 0);
    expect(final).toBe(true);
    expect(read.at(-1)).toMatchObject({ kind: "flow", state: "Crashed", error: reason });
  });

  it("is ended Crashed by the sweep when the caller died before any of its task runs finished", async () => {
    const gate = join(await mkdtemp(join(tmpdir(), "squall-killed-caller-")), "gate");
    const caller = startCaller(local, CALLER, ["2", gate, "0"]);
    const lines = await caller.lines((line) => line.startsWith("flow run "));
    const flowRunId = (lines.find((line) => line.startsWith("flow run ")) ?? "").slice("flow run ".length);
    // Both task runs are out, held by the workers (each waits for the gate), and the caller beat.
    await tasksHeld(2);
    await until(() => store.exists(heartbeatKey(flowRunId)));
    caller.child.kill("SIGKILL");
    await caller.exited;

    // Nothing was recorded yet, but the run is findable: its caller marked it open first.
    expect(await readSegments(store, flowRunId, 0)).toEqual({ segments: [], next: 0 });
    expect(await store.exists(openRunKey(flowRunId))).toBe(true);
    const runKey = await readRunKey((key) => store.get(key), flowRunId);
    const beatBytes = await store.get(heartbeatKey(flowRunId));
    const beat = runKey && beatBytes && decodeHeartbeat(runKey.key, flowRunId, beatBytes);
    if (!beat) throw new Error("the caller wrote no heartbeat signed with its run's key");

    const coordinator = createCoordinator({ store });
    const bound = DEFAULT_SILENT_AFTER_SECONDS * 1000;
    expect(await coordinator.sweep(beat.at + bound + 1)).toEqual({ swept: 0, callersSilent: 1 });
    expect(await readSummary(store, flowRunId)).toMatchObject({
      state: "Crashed",
      counts: { completed: 0, failed: 0, crashed: 0, cancelled: 0 },
      returned: { flowRunId, flowName: "squares", state: "Crashed", tasks: 0, endedAt: beat.at },
    });
    expect(await store.exists(openRunKey(flowRunId))).toBe(false);

    // The two task runs it had sent finish and are recorded; the flow run stays Crashed.
    await writeFile(gate, "");
    await fleetFinished(flowRunId, 2);
    await until(async () => (await readSummary(store, flowRunId))?.counts.completed === 2);
    expect((await readSummary(store, flowRunId))?.state).toBe("Crashed");
  });
});

/** Resolves once `check` holds, checking every 50 ms. */
async function until(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 50));
}

/** Resolves once the workers hold `count` task messages (received, not yet deleted). */
async function tasksHeld(count: number): Promise<void> {
  const sqs = local.emulator.sqsClient();
  try {
    await until(async () => {
      const { Attributes = {} } = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: local.address.taskQueueUrl,
          AttributeNames: ["ApproximateNumberOfMessagesNotVisible"],
        }),
      );
      return Number(Attributes.ApproximateNumberOfMessagesNotVisible) === count;
    });
  } finally {
    sqs.destroy();
  }
}
