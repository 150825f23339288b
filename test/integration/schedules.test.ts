import { defaultSerializer } from "squall";
import { type LocalEnvironment, S3ResultStore, startLocalEnvironment } from "squall/aws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bucketStore, runIds } from "../../sdk/aws/cli/bucket-runs.js";
import { readSummary } from "../../sdk/aws/record/run-log.js";
import { recordedByRun } from "../support/records.js";

// Schedules on the local environment: fired by its scheduler through the flow-runner's Invoke
// API, each firing a flow run of its own, recorded in the bucket as any other.
let local: LocalEnvironment;
let store: S3ResultStore;

beforeAll(async () => {
  local = await startLocalEnvironment({
    workers: 1,
    flows: "test/fixtures/scheduled-flows.ts",
    schedules: [
      { name: "often", flow: "stamping", rate: "rate(2 seconds)", params: ["tick", 21] },
      { name: "never", flow: "stamping", rate: "1 second", params: ["off", 1], enabled: false },
    ],
  });
  store = new S3ResultStore({
    bucket: local.address.bucket,
    endpoint: local.address.endpoint,
    region: local.address.region,
  });
});
afterAll(async () => {
  await local?.stop();
});

/** The ids of the runs in the bucket that are final, once there are `count`; waits up to `ms`. */
async function finalRuns(count: number, ms: number): Promise<string[]> {
  const { s3 } = bucketStore(local.address);
  try {
    for (const end = Date.now() + ms; ; await new Promise((resolve) => setTimeout(resolve, 250))) {
      const ids = await runIds(s3, local.address.bucket);
      const final = [];
      for (const id of ids) if ((await readSummary(store, id))?.state) final.push(id);
      if (final.length >= count || Date.now() > end) return final;
    }
  } finally {
    s3.destroy();
  }
}

describe("schedules on the local environment", () => {
  it("fires an enabled schedule at its rate, each firing a completed flow run with the flow's result", async () => {
    const runs = await finalRuns(2, 30_000);

    expect(runs.length).toBeGreaterThanOrEqual(2);
    for (const id of runs) {
      const summary = await readSummary(store, id);
      expect(summary?.state).toBe("Completed");
      expect(summary?.returned?.flowName).toBe("stamping");
      const outcomes = [...(await recordedByRun(store, id)).values()].flat();
      expect(outcomes.map((outcome) => outcome.status)).toEqual(["completed"]);
      const text = (outcomes[0]?.payload as { text: string } | undefined)?.text ?? "";
      // "tick:42", never "off:2": the disabled schedule fired nothing.
      expect(defaultSerializer.deserialize(new TextEncoder().encode(text))).toBe("tick:42");
    }
    expect(new Set(runs).size).toBe(runs.length);
  });

  it("lists its schedules and when it began", () => {
    expect(local.schedules.listed).toEqual([
      { name: "often", flow: "stamping", expression: "rate(2 seconds)", timezone: "UTC", enabled: true },
      { name: "never", flow: "stamping", expression: "rate(1 second)", timezone: "UTC", enabled: false },
    ]);
    expect(local.schedules.since).toBeLessThanOrEqual(Date.now());
  });

  it("refuses schedules without a flows module to start their flows", async () => {
    await expect(
      startLocalEnvironment({ schedules: [{ name: "often", flow: "stamping", rate: "1 minute" }] }),
    ).rejects.toThrow(
      "Expected `flows` with `schedules`: schedules start flows through the flow-runner, which runs the flows module `flows` names.",
    );
  });
});
