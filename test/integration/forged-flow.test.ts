// A flow on the local environment while someone who may send to its queues, and do nothing else,
// forges task messages and outcomes for it: before its caller submits the runs they name, while it
// runs, and after it finished, and for a run nobody started. The flow still returns the exact
// result, each task runs once, and no record is created or changed by them.
import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { GetQueueAttributesCommand, SendMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { configureLogging, flow, getRunContext, resetLogging } from "squall";
import { LambdaTaskRunner, type LocalEnvironment, S3ResultStore, startLocalEnvironment } from "squall/aws";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { readSegments, readSummary, summaryKey } from "../../sdk/aws/record/run-log.js";
import { type Outcome, type TaskRecord, WIRE_VERSION } from "../../sdk/aws/wire/messages.js";
import { newRunKey } from "../../sdk/aws/wire/run-key.js";
import { seal } from "../../sdk/aws/wire/seal.js";
import { moduleHash } from "../../sdk/registry.js";
import { addToLedger } from "../fixtures/ledger-tasks.js";
import { sleep } from "../support/async.js";

const MODULE = pathToFileURL(new URL("../fixtures/ledger-tasks.ts", import.meta.url).pathname).href;
const TASKS = 40;

beforeEach(() => configureLogging({ write: () => {} }));
afterEach(() => resetLogging());

let local: LocalEnvironment;
let bucket: S3ResultStore;
let sqs: SQSClient;
let dir: string;

beforeAll(async () => {
  [local, dir] = await Promise.all([
    startLocalEnvironment({ workers: 2 }),
    mkdtemp(join(tmpdir(), "squall-forged-flow-")),
  ]);
  const { bucket: name, endpoint, region } = local.address;
  bucket = new S3ResultStore({ bucket: name, endpoint, region });
  sqs = local.emulator.sqsClient();
}, 30_000);
afterAll(async () => {
  sqs?.destroy();
  await local?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** What a sender with no key can do: send any bodies, unsigned or signed with a key of its own. */
async function send(queueUrl: string, bodies: string[]): Promise<void> {
  for (let i = 0; i < bodies.length; i += 10) {
    const entries = bodies.slice(i, i + 10).map((body, n) => ({ Id: `f${n}`, MessageBody: body }));
    const answer = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
    expect(answer.Failed ?? []).toEqual([]);
  }
}

/** Waits until the queues hold nothing: the fleet has taken every message in (and dropped the forged). */
async function drained(): Promise<void> {
  for (const end = Date.now() + 20_000; ; await sleep(50)) {
    let held = 0;
    for (const url of [local.address.taskQueueUrl, local.address.completionQueueUrl]) {
      const { Attributes = {} } = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: url,
          AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        }),
      );
      held += Object.values(Attributes).reduce((sum, n) => sum + Number(n), 0);
    }
    if (held === 0) return;
    if (Date.now() > end) throw new Error(`The queues still hold ${held} messages.`);
  }
}

/** Forged task messages and outcomes for these task runs of a flow run: each unsigned, and signed with a key of the sender's. */
function forgeries(flowRunId: string, taskRunIds: string[], file: string) {
  const records: TaskRecord[] = taskRunIds.map((taskRunId, i) => ({
    taskRunId,
    taskRunName: `addToLedger-${i}`,
    task: "addToLedger",
    module: MODULE,
    codeHash: moduleHash(MODULE) as string,
    attempt: 1,
    serializer: "default",
    args: { text: `J${JSON.stringify([file, "forged", 1000])}` },
    logPrints: false,
    tags: [],
  }));
  const outcomes: Outcome[] = taskRunIds.map((taskRunId) => ({
    flowRunId,
    taskRunId,
    attempt: 1,
    status: "completed",
    serializer: "default",
    payload: { text: "J1000" },
    startedAt: Date.now(),
    endedAt: Date.now(),
    logs: [],
  }));
  const task = JSON.stringify({
    v: WIRE_VERSION,
    flowRunId,
    flowRunName: "x",
    flowName: "sumOf",
    tasks: records,
  });
  const outcome = JSON.stringify({ v: WIRE_VERSION, flowRunId, outcomes });
  const notice = JSON.stringify({
    v: WIRE_VERSION,
    flowRunId,
    returned: { flowRunId, flowName: "sumOf", state: "Failed", tasks: 0, endedAt: Date.now() },
  });
  const attackerKey = newRunKey();
  return {
    tasks: [task, seal(attackerKey, "tasks", task)],
    completions: [
      outcome,
      seal(attackerKey, "completions", outcome),
      notice,
      seal(attackerKey, "completions", notice),
    ],
  };
}

/** The task run ids the flow's next `count` submissions will get: a process prefix and a counter. */
function nextIds(after: string, count: number): string[] {
  const [prefix, serial] = after.split("-") as [string, string];
  return Array.from(
    { length: count },
    (_, i) => `${prefix}-${(Number.parseInt(serial, 36) + 1 + i).toString(36)}`,
  );
}

describe("a flow run while its queues take forged messages", () => {
  it("returns the exact sum, runs each task once, and no forged message creates or changes a record", async () => {
    const file = join(dir, "ledger.txt");
    const nobodys = randomUUID();
    const runner = new LambdaTaskRunner(local.address);
    const sumOf = flow({ taskRunner: runner }, async function sumOf(n: number) {
      const { id } = getRunContext().flowRun;
      const first = addToLedger.submit(file, "genuine", 0);
      await first.result();
      // Forged before the caller submits the runs they name (once, this made the caller wait
      // forever), and for a flow run nobody started.
      const upcoming = nextIds(first.taskRunId, n);
      const early = forgeries(id, upcoming, file);
      const stray = forgeries(nobodys, upcoming, file);
      await send(local.address.taskQueueUrl, [...early.tasks, ...stray.tasks]);
      await send(local.address.completionQueueUrl, [...early.completions, ...stray.completions]);
      await drained();
      const futures = Array.from({ length: n }, (_, i) => addToLedger.submit(file, "genuine", i + 1));
      expect(futures.map((future) => future.taskRunId)).toEqual(upcoming);
      // And while they run.
      const during = forgeries(id, upcoming, file);
      await send(local.address.taskQueueUrl, during.tasks);
      await send(local.address.completionQueueUrl, during.completions);
      const values = await Promise.all(futures.map((future) => future.result()));
      return { id, upcoming, sum: values.reduce((a, b) => a + b, 0) };
    });

    const { id, upcoming, sum } = await sumOf(TASKS);

    expect(sum).toBe((TASKS * (TASKS + 1)) / 2);
    const lines = (await readFile(file, "utf8")).split("\n").filter(Boolean);
    expect(lines.sort()).toEqual(Array.from({ length: TASKS + 1 }, (_, i) => `genuine ${i}`).sort());
    await drained();
    const summary = await readSummary(bucket, id);
    expect(summary?.state).toBe("Completed");
    expect(summary?.counts).toEqual({ completed: TASKS + 1, failed: 0, crashed: 0, cancelled: 0 });
    const { segments } = await readSegments(bucket, id, 0);
    const recorded = segments.flatMap((segment) => segment.outcomes);
    expect(recorded).toHaveLength(TASKS + 1);
    expect(
      recorded.every(
        (outcome) => outcome.payload && "text" in outcome.payload && outcome.payload.text !== "J1000",
      ),
    ).toBe(true);
    expect(await bucket.list(`runs/${nobodys}/`)).toEqual([]);

    // After it finished: nothing of the record moves.
    const before = await bucket.get(summaryKey(id));
    const after = forgeries(id, upcoming, file);
    await send(local.address.taskQueueUrl, after.tasks);
    await send(local.address.completionQueueUrl, after.completions);
    await drained();
    expect(await bucket.get(summaryKey(id))).toEqual(before);
    expect((await readSegments(bucket, id, 0)).segments).toHaveLength(segments.length);
    expect((await readFile(file, "utf8")).split("\n").filter(Boolean)).toHaveLength(TASKS + 1);
  }, 60_000);
});
