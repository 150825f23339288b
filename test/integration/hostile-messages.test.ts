// Task messages from someone who may send to the task queue and nothing more: a message is data,
// so the worker imports no module outside its deployment and reads no stored value outside the
// flow run's own prefix of its own bucket. Each is refused as a Failed outcome naming the rule,
// before anything is imported or read.
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { defaultSerializer, MessageRefusedError } from "squall";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTaskWorker } from "../../sdk/aws/worker/task-worker.js";
import { StoredValue } from "../../sdk/serialization/stored.js";
import type { StoreLocator } from "../../sdk/storage/result-store.js";
import "../fixtures/pipe-tasks.js";
import {
  decoded,
  fixtureModule,
  outcomesOf,
  sqsEvent,
  taskMessage,
  taskRecord,
  workerResources,
} from "../support/worker-harness.js";

const { module: MODULE, codeHash: CODE_HASH } = fixtureModule("pipe-tasks");
const marks = globalThis as { __squallImported?: string[] };

let resources: Awaited<ReturnType<typeof workerResources>>;
let outside: string;

beforeAll(async () => {
  resources = await workerResources(inject("emulatorEndpoint"), "hostile");
  outside = mkdtempSync(join(tmpdir(), "squall-outside-"));
});
afterAll(() => {
  resources.close();
  rmSync(outside, { recursive: true, force: true });
});

/** The one outcome of a message of one record, and the error it carries. */
async function refusal(record: ReturnType<typeof taskRecord>, flowRunId = randomUUID()) {
  const { tasks, completions, store } = resources;
  const worker = createTaskWorker({ tasks, completions, store, stallDelaySeconds: 0 });
  const response = await worker.handle(await sqsEvent(taskMessage([record], flowRunId)));
  expect(response.batchItemFailures).toEqual([]);
  const [outcome, ...others] = await outcomesOf(completions);
  expect(others).toEqual([]);
  expect(outcome).toMatchObject({ taskRunId: record.taskRunId, status: "failed" });
  const error = decoded(outcome) as Error;
  expect(error).toBeInstanceOf(MessageRefusedError);
  return error;
}

/** A module that marks that it was imported, so that a test sees whether it ran. */
function markingModule(name: string): string {
  const path = join(outside, `${name}.mjs`);
  writeFileSync(path, `(globalThis.__squallImported ??= []).push(${JSON.stringify(name)});\n`);
  return pathToFileURL(path).href;
}

describe("a task message naming a module outside the worker's project", () => {
  const rule = `a worker of the local environment imports only source files of its project (${process.cwd()}), outside node_modules`;

  it.each([
    [
      "a data: URL",
      "data:text/javascript,(globalThis.__squallImported ??= []).push('data')",
      ", named by file: URLs",
    ],
    ["an http: URL", "http://127.0.0.1:9/evil.mjs", ", named by file: URLs"],
    ["a node: built-in", "node:child_process", ", named by file: URLs"],
    ["a relative path", "./test/fixtures/pipe-tasks.ts", ", named by file: URLs"],
    [
      "a file that does not exist",
      pathToFileURL(join(process.cwd(), "nope.mjs")).href,
      ", and there is no such file",
    ],
  ])("refuses %s and imports nothing", async (_, module, why) => {
    const record = taskRecord(module, CODE_HASH, "squareInPipe", [3]);

    const error = await refusal(record);

    expect(error.message).toBe(
      `Refused to load task 'squareInPipe' from ${JSON.stringify(module)}: ${rule}${why}. Nothing was imported.`,
    );
    expect(marks.__squallImported ?? []).toEqual([]);
  });

  it("refuses a file outside the project, and one in node_modules, and imports neither", async () => {
    const elsewhere = markingModule("elsewhere");
    const dependency = pathToFileURL(join(process.cwd(), "node_modules/picocolors/picocolors.js")).href;

    for (const module of [elsewhere, dependency]) {
      const error = await refusal(taskRecord(module, CODE_HASH, "squareInPipe", [3]));
      expect(error.message).toBe(
        `Refused to load task 'squareInPipe' from ${JSON.stringify(module)}: ${rule}. Nothing was imported.`,
      );
    }
    expect(marks.__squallImported ?? []).toEqual([]);
  });
});

describe("a task message whose arguments point elsewhere", () => {
  const stored = (key: string, locator: StoreLocator) =>
    taskRecord(MODULE, CODE_HASH, "squareInPipe", [], {
      args: {
        text: new TextDecoder().decode(defaultSerializer.serialize([new StoredValue(key, locator, 8)])),
      },
    });
  const rule = (flowRunId: string) =>
    `a worker reads stored values only from its own bucket (${resources.bucket}), under the flow run's prefix runs/${flowRunId}/. Nothing was read.`;

  it("refuses a local file, and says nothing of what it holds", async () => {
    const flowRunId = randomUUID();
    const error = await refusal(stored("environ", { kind: "file", root: "/proc/self" }), flowRunId);

    expect(error.message).toBe(`Refused to read a stored argument from a file store: ${rule(flowRunId)}`);
  });

  it("refuses another bucket, on another endpoint, without a request", async () => {
    const flowRunId = randomUUID();
    const elsewhere = { kind: "s3", bucket: "someone-elses", endpoint: "http://127.0.0.1:9" } as const;

    const error = await refusal(stored(`runs/${flowRunId}/results/x`, elsewhere), flowRunId);

    expect(error.message).toBe(
      `Refused to read a stored argument from bucket "someone-elses": ${rule(flowRunId)}`,
    );
  });

  it("refuses another flow run's results in its own bucket, and a key that climbs out of the prefix", async () => {
    const flowRunId = randomUUID();
    const other = `runs/${randomUUID()}/results/secret`;
    await resources.store.put(other, defaultSerializer.serialize(42));

    for (const key of [other, `runs/${flowRunId}/../${other.slice(5)}`]) {
      const error = await refusal(stored(key, resources.store.locator), flowRunId);
      expect(error.message).toBe(
        `Refused to read a stored argument at ${JSON.stringify(key)}: ${rule(flowRunId)}`,
      );
    }
  });

  it("refuses arguments stored under another flow run's prefix", async () => {
    const flowRunId = randomUUID();
    const key = `runs/${randomUUID()}/payloads/args`;
    await resources.store.put(key, defaultSerializer.serialize([5]));

    const error = await refusal(
      taskRecord(MODULE, CODE_HASH, "squareInPipe", [], { args: { key, size: 8 } }),
      flowRunId,
    );

    expect(error.message).toBe(
      `Refused to read arguments at ${JSON.stringify(key)}: a worker reads a run's arguments only under its flow run's prefix runs/${flowRunId}/. Nothing was read.`,
    );
  });

  it("still reads a stored argument under the flow run's own prefix", async () => {
    const { tasks, completions, store } = resources;
    const flowRunId = randomUUID();
    const key = `runs/${flowRunId}/results/up`;
    await store.put(key, defaultSerializer.serialize(6));
    const worker = createTaskWorker({ tasks, completions, store });

    await worker.handle(await sqsEvent(taskMessage([stored(key, store.locator)], flowRunId)));

    const [outcome] = await outcomesOf(completions);
    expect(outcome?.status).toBe("completed");
    expect(decoded(outcome)).toBe(36);
  });
});
