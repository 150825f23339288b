// Deaths are what the worker records, not what SQS's receive count says: a throttled event source
// hands batches back unrun, and their receive counts rise all the same. A run is split from its
// message and run alone when it may have killed its worker, and ends Crashed only after dying
// alone `maxDeaths` times, as the worker recorded before each start.
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CrashedError } from "squall";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { TaskMessage } from "../../sdk/aws/wire/messages.js";
import { startsKey } from "../../sdk/aws/worker/deaths.js";
import { createTaskWorker } from "../../sdk/aws/worker/task-worker.js";
import "../fixtures/ledger-tasks.js";
import {
  decoded,
  fixtureModule,
  outcomesOf,
  taskMessage,
  taskRecord,
  workerResources,
} from "../support/worker-harness.js";

const { module: MODULE, codeHash: CODE_HASH } = fixtureModule("ledger-tasks");

let resources: Awaited<ReturnType<typeof workerResources>>;
let dir: string;

beforeAll(async () => {
  resources = await workerResources(inject("emulatorEndpoint"), "deaths");
  dir = mkdtempSync(join(tmpdir(), "squall-deaths-"));
});
afterAll(() => {
  resources.close();
  rmSync(dir, { recursive: true, force: true });
});

const ledger = (file: string) => {
  try {
    return readFileSync(file, "utf8").split("\n").filter(Boolean);
  } catch {
    return [];
  }
};

/** The message as SQS delivers it for the `receives`-th time. */
async function delivered(message: TaskMessage, receives: number) {
  const body = await resources.signer.taskBody(message);
  return {
    Records: [{ messageId: randomUUID(), body, attributes: { ApproximateReceiveCount: String(receives) } }],
  };
}

/** Task messages waiting on the task queue, parsed, received and deleted. */
async function sentBack(): Promise<TaskMessage[]> {
  const messages = await resources.tasks.receive({ max: 10, waitSeconds: 0 });
  await resources.tasks.delete(messages.map((m) => m.receiptHandle));
  return messages.map((m) => JSON.parse(m.body) as TaskMessage);
}

describe("a worker counting deaths", () => {
  it("splits a message received many times (as a throttled event source leaves it) and runs its runs alone, never Crashed", async () => {
    const { tasks, completions, store } = resources;
    const file = join(dir, "throttled.txt");
    const flowRunId = randomUUID();
    const records = [1, 2].map((x) => taskRecord(MODULE, CODE_HASH, "addToLedger", [file, "run", x]));
    const worker = createTaskWorker({ tasks, completions, store, maxDeaths: 3 });

    const response = await worker.handle(await delivered(taskMessage(records, flowRunId), 9));

    expect(response).toEqual({ batchItemFailures: [] });
    expect(ledger(file)).toEqual([]); // split, not run: either may be the one that killed a worker
    const apart = await sentBack();
    expect(apart.map((m) => [m.tasks.map((t) => t.taskRunId), m.suspect])).toEqual([
      [[records[0]?.taskRunId], true],
      [[records[1]?.taskRunId], true],
    ]);
    // Each comes back received many times too, and runs alone all the same.
    for (const message of apart) await worker.handle(await delivered(message, 8));
    expect(ledger(file)).toEqual(["run 1", "run 2"]);
    const outcomes = await outcomesOf(completions);
    expect(outcomes.map((o) => [o.taskRunId, o.status, decoded(o)])).toEqual([
      [records[0]?.taskRunId, "completed", 1],
      [records[1]?.taskRunId, "completed", 2],
    ]);
  });

  it("records each start of a run alone, and ends it Crashed, unrun, once it has died alone maxDeaths times", async () => {
    const { tasks, completions, store } = resources;
    const file = join(dir, "killer.txt");
    const flowRunId = randomUUID();
    const record = taskRecord(MODULE, CODE_HASH, "addToLedger", [file, "alone", 7]);
    const message: TaskMessage = { ...taskMessage([record], flowRunId), suspect: true };
    const key = startsKey(flowRunId, record);
    const worker = createTaskWorker({ tasks, completions, store, maxDeaths: 3 });

    await store.put(key, new TextEncoder().encode("2")); // two starts alone, neither with an outcome
    await worker.handle(await delivered(message, 1));
    expect(new TextDecoder().decode(await store.get(key))).toBe("3");
    expect(ledger(file)).toEqual(["alone 7"]);
    expect((await outcomesOf(completions)).map((o) => o.status)).toEqual(["completed"]);

    // Had that start died too: the next delivery ends it without running it.
    await worker.handle(await delivered(message, 2));

    expect(ledger(file)).toEqual(["alone 7"]);
    const [crashed, ...others] = await outcomesOf(completions);
    expect(others).toEqual([]);
    expect(crashed).toMatchObject({ taskRunId: record.taskRunId, status: "crashed", attempt: 1 });
    const error = decoded(crashed) as Error;
    expect(error).toBeInstanceOf(CrashedError);
    expect(error.message).toBe(
      `Task run '${record.taskRunName}' crashed: it was started alone 3 times after its worker died, and each time its worker died or timed out without an outcome.`,
    );
    expect(new TextDecoder().decode(await store.get(key))).toBe("3");
  });

  it("records nothing for a run received once: no request for runs whose worker lived", async () => {
    const { tasks, completions, store } = resources;
    const flowRunId = randomUUID();
    const record = taskRecord(MODULE, CODE_HASH, "addToLedger", [join(dir, "fresh.txt"), "fresh", 1]);
    const worker = createTaskWorker({ tasks, completions, store });

    await worker.handle(await delivered(taskMessage([record], flowRunId), 1));

    expect((await outcomesOf(completions)).map((o) => o.status)).toEqual(["completed"]);
    expect(await store.list(`runs/${flowRunId}/`)).toEqual([]);
  });
});
