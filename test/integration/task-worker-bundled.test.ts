import { createHash } from "node:crypto";
import { pathToFileURL } from "node:url";
import { CodeMismatchError, MessageRefusedError } from "squall";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { workerHandler } from "../../sdk/aws/handlers.js";
import { createTaskWorker } from "../../sdk/aws/worker/task-worker.js";
import { moduleHash } from "../../sdk/registry.js";
import "../fixtures/pipe-tasks.js";
import { sleep } from "../support/async.js";
import {
  decoded,
  outcomesOf,
  sqsEvent,
  taskMessage,
  taskRecord,
  workerResources,
} from "../support/worker-harness.js";

// In Lambda the caller's module file does not exist: the worker finds the task by name in its
// bundle, and checks the caller's hash against the hash of the source the bundle was built from.
const SOURCE = "test/fixtures/pipe-tasks.ts";
/** The caller's module, as it names it: a file this machine does not have. */
const ELSEWHERE = "file:///nowhere/test/fixtures/pipe-tasks.ts";
/** The hash of the source the bundle was built from (not the hash of the file this worker loaded). */
const BUNDLED_HASH = createHash("sha256").update("the bundled pipe-tasks.ts").digest("hex");
/** The fixture file this process loaded, and its hash. */
const MODULE_HERE = pathToFileURL(new URL("../fixtures/pipe-tasks.ts", import.meta.url).pathname).href;
const LOADED_HASH = moduleHash(MODULE_HERE);

let resources: Awaited<ReturnType<typeof workerResources>>;

beforeAll(async () => {
  resources = await workerResources(inject("emulatorEndpoint"), "bundled");
});
afterAll(() => resources.close());

function bundledWorker(bundled: Record<string, string> | "none" = { [SOURCE]: BUNDLED_HASH }) {
  const { tasks, completions, store } = resources;
  return createTaskWorker({ tasks, completions, store, bundled: bundled === "none" ? undefined : bundled });
}

const square = (module: string, codeHash: string, extra = {}) =>
  taskRecord(module, codeHash, "squareInPipe", [7], extra);

describe("a worker running a bundle", () => {
  it("finds a task of a bundled module by name when the caller's module file does not exist", async () => {
    expect(LOADED_HASH).toBeDefined();
    expect(LOADED_HASH).not.toBe(BUNDLED_HASH);
    const worker = bundledWorker();

    const response = await worker.handle(await sqsEvent(taskMessage([square(ELSEWHERE, BUNDLED_HASH)])));

    expect(response.batchItemFailures).toEqual([]);
    const [outcome] = await outcomesOf(resources.completions);
    expect(outcome?.status).toBe("completed");
    expect(decoded(outcome)).toBe(49);
  });

  it("matches a bundled path written with a leading ./", async () => {
    const worker = bundledWorker({ [`./${SOURCE}`]: BUNDLED_HASH });

    await worker.handle(await sqsEvent(taskMessage([square(ELSEWHERE, BUNDLED_HASH)])));

    const [outcome] = await outcomesOf(resources.completions);
    expect(outcome?.status).toBe("completed");
    expect(decoded(outcome)).toBe(49);
  });

  it("refuses the run with CodeMismatchError when the caller's hash differs from the bundled source's", async () => {
    const worker = bundledWorker();

    const response = await worker.handle(
      await sqsEvent(taskMessage([square(ELSEWHERE, LOADED_HASH as string)])),
    );

    expect(response.batchItemFailures).toEqual([]);
    const [outcome] = await outcomesOf(resources.completions);
    expect(outcome?.status).toBe("failed");
    const error = decoded(outcome) as Error;
    expect(error).toBeInstanceOf(CodeMismatchError);
    expect(error.message).toBe(
      "The worker's code for task 'squareInPipe' differs from the caller's: redeploy so both run the same code, or set `verifySource: false` on the task.",
    );
  });

  it("runs a differing task anyway when the record says verifySource: false", async () => {
    const worker = bundledWorker();

    await worker.handle(
      await sqsEvent(taskMessage([square(ELSEWHERE, "0123456789abcdef", { verifySource: false })])),
    );

    const [outcome] = await outcomesOf(resources.completions);
    expect(outcome?.status).toBe("completed");
    expect(decoded(outcome)).toBe(49);
  });

  it("refuses a module its bundle was not built from, importing nothing", async () => {
    const worker = bundledWorker();
    // Not a bundled path: `xtest/...` only ends with the bundled path's characters, not its segments.
    const unbundled = "file:///nowhere/xtest/fixtures/pipe-tasks.ts";

    await worker.handle(await sqsEvent(taskMessage([square(unbundled, BUNDLED_HASH)])));

    const [outcome, ...others] = await outcomesOf(resources.completions);
    expect(others).toEqual([]);
    expect(outcome?.status).toBe("failed");
    const error = decoded(outcome) as Error;
    expect(error).toBeInstanceOf(MessageRefusedError);
    expect(error.message).toBe(
      `Refused to load task 'squareInPipe' from "${unbundled}": a deployed worker runs only tasks of the modules its bundle was built from. Nothing was imported.`,
    );
  });

  it("without a bundle, checks a module of its project against the worker's own file", async () => {
    const withoutBundle = bundledWorker("none");
    await withoutBundle.handle(await sqsEvent(taskMessage([square(MODULE_HERE, BUNDLED_HASH)])));

    const [outcome] = await outcomesOf(resources.completions);
    expect(outcome?.status).toBe("failed");
    const error = decoded(outcome) as Error;
    expect(error).toBeInstanceOf(CodeMismatchError);
    // The message of the unbundled lookup (it names restarting workers).
    expect(error.message).toContain("redeploy (or restart the workers)");
  });

  // BUG (sdk/aws/worker/task-lookup.ts, bundledSourceHash): the record's module is compared by
  // `new URL(module).pathname`, which stays percent-encoded, so a project path with a space (or any character
  // a file URL escapes) never matches its bundled path, and the record takes the unbundled lookup.
  // `fileURLToPath(module)` would decode it. Remove `.fails` once fixed.
  it("matches a bundled path with a space, which the caller's file URL percent-encodes", async () => {
    const worker = bundledWorker({ "test/fixtures/my tasks.ts": BUNDLED_HASH });
    const module = pathToFileURL("/nowhere/test/fixtures/my tasks.ts").href;
    expect(module).toContain("my%20tasks.ts");

    await worker.handle(await sqsEvent(taskMessage([square(module, BUNDLED_HASH)])));

    const [outcome] = await outcomesOf(resources.completions);
    expect(outcome?.status === "failed" ? (decoded(outcome) as Error).message : outcome?.status).toBe(
      "completed",
    );
  });

  it("fails a task the bundle does not have without holding the batch", async () => {
    const worker = bundledWorker();
    const unknown = taskRecord(ELSEWHERE, BUNDLED_HASH, "notInTheBundle", []);

    const answer = await Promise.race([
      worker.handle(await sqsEvent(taskMessage([unknown]))),
      sleep(5_000).then(() => "still waiting after 5 s" as const),
    ]);

    expect(answer).toEqual({ batchItemFailures: [] });
    const [outcome] = await outcomesOf(resources.completions);
    expect(outcome?.status).toBe("failed");
    expect((decoded(outcome) as Error).message).toBe(
      `The worker's bundle has no task named 'notInTheBundle' (from ${ELSEWHERE}).`,
    );
  });

  it("gets its bundled modules from SQUALL_BUNDLED_MODULES when run by workerHandler", async () => {
    const { tasks, completions, bucket } = resources;
    const handler = workerHandler({
      env: {
        SQUALL_ENDPOINT: inject("emulatorEndpoint"),
        SQUALL_REGION: "us-east-1",
        SQUALL_TASK_QUEUE_URL: tasks.url,
        SQUALL_COMPLETION_QUEUE_URL: completions.url,
        SQUALL_BUCKET: bucket,
        SQUALL_BUNDLED_MODULES: JSON.stringify({ [SOURCE]: BUNDLED_HASH }),
      },
    });

    const response = await handler(await sqsEvent(taskMessage([square(ELSEWHERE, BUNDLED_HASH)])));

    expect(response.batchItemFailures).toEqual([]);
    const [outcome] = await outcomesOf(completions);
    expect(outcome?.status === "failed" ? (decoded(outcome) as Error).message : outcome?.status).toBe(
      "completed",
    );
    expect(decoded(outcome)).toBe(49);
  });
});
