import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type LocalEnvironment, S3ResultStore, startLocalEnvironment } from "squall/aws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientsFor } from "../../sdk/aws/address.js";
import { journalKey } from "../../sdk/aws/durable/journal.js";
import { readSummary } from "../../sdk/aws/record/run-log.js";
import { startOnFlowRunner } from "../support/local-environment.js";

// A flow of forty "minutes" (forty steps of a task and a one-second durable sleep) on a
// flow-runner whose invocations last 20 s: it goes from invocation to invocation through the flow
// queue, as a 40-minute flow would through 15-minute ones, and completes.
let local: LocalEnvironment;
let store: S3ResultStore;

beforeAll(async () => {
  local = await startLocalEnvironment({
    workers: 1,
    flows: "test/fixtures/durable-flows.ts",
    flowRunnerTimeoutSeconds: 20,
  });
  store = new S3ResultStore({ bucket: local.address.bucket, client: clientsFor(local.address).s3 });
});
afterAll(async () => {
  await local?.stop();
});

/** The journal's entries, in order. */
async function journal(flowRunId: string): Promise<{ snapshot?: true; sleeps?: unknown[] }[]> {
  const entries = [];
  for (let n = 0; ; n++) {
    const bytes = await store.get(journalKey(flowRunId, n));
    if (!bytes) return entries;
    entries.push(JSON.parse(new TextDecoder().decode(bytes)));
  }
}

describe("a flow longer than its flow-runner's timeout", () => {
  it("completes across invocations, each step run once, each sleep slept once", {
    timeout: 150_000,
  }, async () => {
    const ledger = join(mkdtempSync(join(tmpdir(), "squall-long-")), "ledger");
    const flowRunId = randomUUID();
    const began = Date.now();
    expect(
      await startOnFlowRunner(local, { flow: "longHaul", parameters: [ledger, 40, 1_000], flowRunId }),
    ).toBe(202);
    let summary = await readSummary(store, flowRunId);
    while (summary?.state === undefined && Date.now() - began < 140_000) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      summary = await readSummary(store, flowRunId);
    }
    expect(summary?.state).toBe("Completed");
    expect(summary?.counts).toEqual({ completed: 40, failed: 0, crashed: 0, cancelled: 0 });
    expect(readFileSync(ledger, "utf8").split("\n").filter(Boolean)).toEqual(
      Array.from({ length: 40 }, (_, step) => `step ${step}`),
    );
    // 40 s of sleeps alone: at least two invocations handed it on, each a takeover in the journal.
    expect(Date.now() - began).toBeGreaterThanOrEqual(40_000);
    const entries = await journal(flowRunId);
    expect(entries.filter((entry) => entry.snapshot).length).toBeGreaterThanOrEqual(2);
    const sleeps = entries.filter((entry) => !entry.snapshot).flatMap((entry) => entry.sleeps ?? []);
    expect(sleeps).toHaveLength(40);
    const result = await store.get(`runs/${flowRunId}/flow-result`);
    expect(JSON.parse(new TextDecoder().decode(result))).toBe(40);
  });
});
