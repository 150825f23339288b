import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type LocalEnvironment, S3ResultStore, startLocalEnvironment } from "squall/aws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientsFor } from "../../sdk/aws/address.js";
import { readSummary } from "../../sdk/aws/record/run-log.js";
import { startOnFlowRunner } from "../support/local-environment.js";

// A durable flow run started on the local environment's flow-runner, as `startFlowRun` starts one
// (an Event invocation), whose flow-runner is killed at random points: each death is found by the
// sweep (no heartbeat) or the flow queue (a message not deleted), and the run resumed by replay.

const SEED = Number(process.env.SQUALL_CHAOS_SEED ?? Date.now() % 100_000);
let local: LocalEnvironment;
let store: S3ResultStore;

beforeAll(async () => {
  local = await startLocalEnvironment({
    workers: 2,
    flows: "test/fixtures/durable-flows.ts",
    flowRunnerTimeoutSeconds: 20,
    callerSilenceSeconds: 2,
    sweepSeconds: 1,
  });
  store = new S3ResultStore({ bucket: local.address.bucket, client: clientsFor(local.address).s3 });
});
afterAll(async () => {
  await local?.stop();
});

/** A seeded random number generator, so that a failing schedule of kills can be replayed. */
function seeded(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

describe("a durable flow run whose flow-runner is killed", () => {
  it(`completes with each of its 1,000 task runs executed exactly once (seed ${SEED})`, {
    timeout: 240_000,
  }, async () => {
    const random = seeded(SEED);
    const ledger = join(mkdtempSync(join(tmpdir(), "squall-kills-")), "ledger");
    const flowRunId = randomUUID();
    expect(
      await startOnFlowRunner(local, { flow: "durableFanOut", parameters: [ledger, 20, 50, 150], flowRunId }),
    ).toBe(202);
    let kills = 0;
    while (kills < 5) {
      await new Promise((resolve) => setTimeout(resolve, 300 + random() * 1_500));
      if ((await readSummary(store, flowRunId))?.state !== undefined) break;
      if (local.kill("flow-runner")) kills += 1;
    }
    let summary = await readSummary(store, flowRunId);
    const until = Date.now() + 200_000;
    while (summary?.state === undefined && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      summary = await readSummary(store, flowRunId);
    }
    expect(kills).toBe(5);
    expect(summary?.state).toBe("Completed");
    expect(summary?.counts).toEqual({ completed: 1000, failed: 0, crashed: 0, cancelled: 0 });
    const lines = readFileSync(ledger, "utf8").split("\n").filter(Boolean).map(Number);
    const counts = new Map<number, number>();
    for (const x of lines) counts.set(x, (counts.get(x) ?? 0) + 1);
    const twice = [...counts].filter(([, n]) => n > 1).map(([x]) => x);
    expect(twice).toEqual([]);
    expect(counts.size).toBe(1000);
    const result = JSON.parse(new TextDecoder().decode(await store.get(`runs/${flowRunId}/flow-result`)));
    expect(result).toBe(1000);
  });
});
