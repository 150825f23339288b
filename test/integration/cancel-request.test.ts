import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { flow, getRunContext } from "squall";
import { LambdaTaskRunner, type LocalEnvironment, S3ResultStore, startLocalEnvironment } from "squall/aws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientsFor } from "../../sdk/aws/address.js";
import { readSummary } from "../../sdk/aws/record/run-log.js";
import { cancelRequestKey } from "../../sdk/aws/runner/cancel-watch.js";
import { ledgerSquare } from "../fixtures/durable-flows.js";

// `squall cancel` writes runs/<id>/cancel; the flow run's own process finds it and cancels.
let local: LocalEnvironment;
let store: S3ResultStore;

beforeAll(async () => {
  local = await startLocalEnvironment({ workers: 1 });
  store = new S3ResultStore({ bucket: local.address.bucket, client: clientsFor(local.address).s3 });
});
afterAll(async () => {
  await local?.stop();
});

describe("a cancellation requested in the bucket", () => {
  it("cancels the running flow run: its unstarted task runs never run, and its record ends Cancelled", {
    timeout: 60_000,
  }, async () => {
    const ledger = join(mkdtempSync(join(tmpdir(), "squall-cancel-")), "ledger");
    let flowRunId = "";
    const slowWaves = flow(
      { taskRunner: new LambdaTaskRunner({ ...local.address }) },
      async function slowWaves() {
        flowRunId = getRunContext().flowRun.id;
        for (let wave = 0; wave < 20; wave++)
          await ledgerSquare.map(ledger, [wave * 2, wave * 2 + 1], 500).result();
      },
    );
    const state = slowWaves.run();
    while (!flowRunId) await new Promise((resolve) => setTimeout(resolve, 20));
    const requestedAt = Date.now();
    await store.put(cancelRequestKey(flowRunId), new TextEncoder().encode(JSON.stringify({ requestedAt })));

    const final = await state;
    expect(final.name).toBe("Cancelled");
    expect("error" in final && final.error.message).toBe(
      `Flow run '${final.flowRun.name}' was cancelled: cancellation was requested at ${new Date(requestedAt).toISOString()} (squall cancel)`,
    );
    // Within a check's interval (5 s) and the wave running then: far from all 20 waves.
    const ran = readFileSync(ledger, "utf8").split("\n").filter(Boolean).length;
    expect(ran).toBeLessThanOrEqual(2 * 14); // found within a check (5 s: about 9 waves), far from all 20
    let summary = await readSummary(store, flowRunId);
    for (let i = 0; i < 100 && summary?.state === undefined; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      summary = await readSummary(store, flowRunId);
    }
    expect(summary?.state).toBe("Cancelled");
  });
});
