import { defaultSerializer } from "squall";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Outcome } from "../../sdk/aws/wire/messages.js";
import { MAX_RUN_LOG_BYTES } from "../../sdk/aws/worker/run-logs.js";
import { createTaskWorker } from "../../sdk/aws/worker/task-worker.js";
import "../fixtures/worker-limit-tasks.js";
import {
  decoded,
  fixtureModule,
  outcomesOf,
  sqsEvent,
  taskMessage,
  taskRecord,
  workerResources,
} from "../support/worker-harness.js";

const { module: MODULE, codeHash: CODE_HASH } = fixtureModule("worker-limit-tasks");

let resources: Awaited<ReturnType<typeof workerResources>>;
let worker: ReturnType<typeof createTaskWorker>;

beforeAll(async () => {
  resources = await workerResources(inject("emulatorEndpoint"), "sizes");
  const { tasks, completions, store } = resources;
  worker = createTaskWorker({ tasks, completions, store });
});
afterAll(() => resources.close());

const record = (task: string, args: unknown[]) => taskRecord(MODULE, CODE_HASH, task, args);
const siblings = () => [record("returnsAtOnce", ["left"]), record("returnsAtOnce", ["right"])];

/** Handles the message once and returns its outcomes by task run id, each run having exactly one. */
async function handledOnce(records: ReturnType<typeof record>[]): Promise<Map<string, Outcome>> {
  const response = await worker.handle(await sqsEvent(taskMessage(records)));
  expect(response.batchItemFailures).toEqual([]);
  const outcomes = await outcomesOf(resources.completions);
  expect(outcomes.map((o) => o.taskRunId).sort()).toEqual(records.map((r) => r.taskRunId).sort());
  return new Map(outcomes.map((o) => [o.taskRunId, o]));
}

describe("an outcome never exceeds what SQS takes", () => {
  it("keeps a run's output up to its limit and says how much was dropped", async () => {
    const printing = record("printsALot", [300]);
    const others = siblings();

    const outcomes = await handledOnce([printing, ...others]);

    const printed = outcomes.get(printing.taskRunId);
    expect(printed?.status).toBe("completed");
    expect(decoded(printed)).toBe("printed");
    const lineBytes = JSON.stringify({ stream: "stdout", text: "x".repeat(1023) }).length + 1;
    const kept = Math.floor(MAX_RUN_LOG_BYTES / lineBytes);
    expect(printed?.logs).toHaveLength(kept + 1);
    expect(printed?.logs.at(-1)).toEqual({
      stream: "stderr",
      text: `[squall] ${300 - kept} more line(s) of this run's output (about ${Math.ceil(((300 - kept) * lineBytes) / 1024)} KiB) were dropped: an outcome keeps at most 96 KiB of a run's output and log lines. Write large output to a file or return it as the result.`,
    });
    for (const sibling of others) expect(outcomes.get(sibling.taskRunId)?.status).toBe("completed");
  });

  it("stores an error too large for its outcome in the bucket, and sends it cut short", async () => {
    const throwing = record("throwsAHugeError", [300]);
    const others = siblings();

    const outcomes = await handledOnce([throwing, ...others]);

    const failed = outcomes.get(throwing.taskRunId);
    expect(failed?.status).toBe("failed");
    const error = decoded(failed) as Error;
    expect(error).toBeInstanceOf(Error);
    const key = /the whole error is stored at (\S+)\)$/.exec(error.message)?.[1] as string;
    expect(key.startsWith(`runs/${failed?.flowRunId}/results/${throwing.taskRunId}-1-`)).toBe(true);
    const stored = (await resources.store.get(key)) as Uint8Array;
    expect((defaultSerializer.deserialize(stored) as Error).message).toBe("y".repeat(300 * 1024));
    // The outcome names the whole error's key as a field too, for the caller to read it from.
    expect(failed?.payload).toEqual({ text: expect.any(String), stored: { key, size: stored.byteLength } });
    expect(error.message).toBe(
      `${"y".repeat(4_000)}... (cut short: its error was ${Math.ceil(stored.byteLength / 1024)} KiB, more than an outcome carries; the whole error is stored at ${key})`,
    );
    for (const sibling of others) expect(outcomes.get(sibling.taskRunId)?.status).toBe("completed");
  });

  it("fails alone a run whose outcome cannot fit a message, its siblings reported", async () => {
    const { tasks, completions, store } = resources;
    const inlineEverything = createTaskWorker({ tasks, completions, store, inlineBytes: 1024 * 1024 });
    const large = record("returnsAtOnce", ["z".repeat(300 * 1024)]);
    const others = siblings();

    const response = await inlineEverything.handle(await sqsEvent(taskMessage([large, ...others])));

    expect(response.batchItemFailures).toEqual([]);
    const outcomes = new Map((await outcomesOf(completions)).map((o) => [o.taskRunId, o]));
    expect([...outcomes.keys()].sort()).toEqual([large, ...others].map((r) => r.taskRunId).sort());
    expect(outcomes.get(large.taskRunId)?.status).toBe("failed");
    expect((decoded(outcomes.get(large.taskRunId)) as Error).message).toMatch(
      new RegExp(
        `^Task run ${large.taskRunId} ended completed, but its outcome took \\d+ KiB, more than an SQS message holds \\(\\d+ KiB with its frame\\): lower the worker's \`inlineBytes\``,
      ),
    );
    for (const sibling of others) expect(outcomes.get(sibling.taskRunId)?.status).toBe("completed");
  });
});
