// A durable run's task message may be sent twice: by its flow-runner, and again, byte for byte,
// by the flow-runner that resumes the run without knowing whether the first went out. The copy
// that claims it first runs; the other runs nothing. A message without a claim is not affected.
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { claimKey } from "../../sdk/aws/worker/claims.js";
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
  resources = await workerResources(inject("emulatorEndpoint"), "claims");
  dir = mkdtempSync(join(tmpdir(), "squall-claims-"));
});
afterAll(() => {
  resources.close();
  rmSync(dir, { recursive: true, force: true });
});

const ledger = (file: string) => readFileSync(file, "utf8").split("\n").filter(Boolean);

/** The same body delivered as SQS delivers distinct messages (or one message again, `messageId` repeated). */
const delivered = (...records: { messageId: string; body: string; receives?: number }[]) => ({
  Records: records.map(({ messageId, body, receives = 1 }) => ({
    messageId,
    body,
    attributes: { ApproximateReceiveCount: String(receives) },
  })),
});

describe("claimed task messages", () => {
  it("run once however many copies arrive; the same message delivered again goes on; the claim holds its message id", async () => {
    const { tasks, completions, store, signer } = resources;
    const file = join(dir, "claimed.txt");
    const flowRunId = randomUUID();
    const claim = "00112233445566778899aabb";
    const body = await signer.taskBody({
      ...taskMessage([taskRecord(MODULE, CODE_HASH, "addToLedger", [file, "claimed", 1])], flowRunId),
      claim,
    });
    const worker = createTaskWorker({ tasks, completions, store });

    expect(await worker.handle(delivered({ messageId: "original", body }))).toEqual({
      batchItemFailures: [],
    });
    expect(await worker.handle(delivered({ messageId: "copy", body }))).toEqual({ batchItemFailures: [] });
    expect(ledger(file)).toEqual(["claimed 1"]);
    expect(new TextDecoder().decode(await store.get(claimKey(flowRunId, claim)))).toBe("original");
    // The original delivered again (its invocation died before deleting it): it runs again, as
    // at-least-once delivery has it; a copy never does.
    await worker.handle(delivered({ messageId: "original", body, receives: 2 }));
    expect(ledger(file)).toEqual(["claimed 1", "claimed 1"]);
    const outcomes = await outcomesOf(completions);
    expect(outcomes.map((o) => [o.status, decoded(o)])).toEqual([
      ["completed", 1],
      ["completed", 1],
    ]);
  });

  it("leave a message without a claim to run at each delivery, as before", async () => {
    const { tasks, completions, store, signer } = resources;
    const file = join(dir, "unclaimed.txt");
    const body = await signer.taskBody(
      taskMessage([taskRecord(MODULE, CODE_HASH, "addToLedger", [file, "plain", 2])], randomUUID()),
    );
    const worker = createTaskWorker({ tasks, completions, store });
    await worker.handle(delivered({ messageId: "a", body }, { messageId: "b", body }));
    expect(ledger(file)).toEqual(["plain 2", "plain 2"]);
    await outcomesOf(completions);
  });
});
