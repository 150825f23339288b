import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { defaultSerializer } from "squall";
import { type LocalEnvironment, S3ResultStore, startLocalEnvironment } from "squall/aws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keptScheduleReport } from "../../sdk/aws/cli/schedule-report.js";
import { startKey } from "../../sdk/aws/cli/scheduled-runs.js";
import type { Announcement } from "../../sdk/aws/local/announcement.js";
import { readSummary } from "../../sdk/aws/record/run-log.js";
import { bucketStore, runIds } from "../../sdk/aws/records/bucket-runs.js";
import { startFakeStack } from "../support/fake-stack.js";
import { PROJECT_ROOT } from "../support/local-environment.js";
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

/** Runs `squall <args>` from the repository's root, without colours. */
function squall(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["sdk/cli/squall.js", ...args],
      { cwd: PROJECT_ROOT, env: { ...process.env, NO_COLOR: "1" }, timeout: 30_000 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Writes a run's start as the flow-runner does: `{ flow, schedule, startedAt }`. */
async function writeStart(
  id: string,
  start: { flow: string; schedule?: string; startedAt: number; flowRunName?: string },
) {
  expect(await store.create(startKey(id), new TextEncoder().encode(JSON.stringify(start)))).toBe(true);
}

describe("a schedule's last runs", () => {
  // The runs the schedule fired (the flow-runner writes each one's start), and starts that are not
  // the schedule's, newer than all of them: another flow's, and a run started by no schedule.
  beforeAll(async () => {
    await finalRuns(3, 30_000);
    const later = Date.now() + 3_600_000;
    await writeStart(randomUUID(), { flow: "another", schedule: "often", startedAt: later });
    await writeStart(randomUUID(), { flow: "stamping", startedAt: later });
  }, 40_000);

  it("are the newest three whose start names the schedule and its flow, with their names and states", async () => {
    const now = Date.now();
    const { address } = local;
    const announcement: Announcement = {
      v: 1,
      pid: process.pid,
      startedAt: new Date(local.schedules.since).toISOString(),
      projectRoot: PROJECT_ROOT,
      endpoint: address.endpoint,
      region: address.region,
      bucket: address.bucket,
      taskQueueUrl: address.taskQueueUrl,
      completionQueueUrl: address.completionQueueUrl,
      deadLetterQueueUrl: local.deadLetterQueueUrl,
      workerTimeoutSeconds: address.workerTimeoutSeconds,
      callerSilenceSeconds: address.callerSilenceSeconds,
      schedules: local.schedules.listed,
      schedulesSince: local.schedules.since,
    };

    const report = await keptScheduleReport(announcement, now);

    const [often, never] = report.rows;
    const listed = often?.lastRuns ?? [];
    expect(listed).toHaveLength(3);
    // Each is the schedule's, named as its start says; newest first; none of the others newer.
    const starts = await Promise.all(
      listed.map(async (run) => JSON.parse(new TextDecoder().decode(await store.get(startKey(run.id))))),
    );
    for (const [i, start] of starts.entries()) {
      expect(start).toMatchObject({ flow: "stamping", schedule: "often" });
      expect(listed[i]?.name).toBe(start.flowRunName);
      expect(["Completed", "Running"]).toContain(listed[i]?.state);
    }
    const times = starts.map((start) => start.startedAt as number);
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    // Every 2 s from the scheduler's start: the first such time after now.
    const since = local.schedules.since;
    expect(often?.next).toBe(since + (Math.floor((now - since) / 2_000) + 1) * 2_000);
    expect(never).toMatchObject({ name: "never", enabled: false, next: undefined, lastRuns: [] });
    expect(report.unread).toBe(0);
  });

  it("are what squall schedules --stack prints, from the stack's Schedules output", async () => {
    const stack = await startFakeStack("SquallSchedules", local.address, {
      outputs: { Schedules: JSON.stringify(local.schedules.listed) },
    });
    try {
      const { code, stdout } = await squall(
        "schedules",
        "--stack",
        "SquallSchedules",
        "--endpoint",
        stack.endpoint,
      );

      expect(code).toBe(0);
      const lines = stdout.split("\n");
      expect(lines.slice(0, 3)).toEqual([
        "NAME   FLOW      EXPRESSION       TIMEZONE  ENABLED  NEXT",
        "often  stamping  rate(2 seconds)  UTC       yes      -",
        "never  stamping  rate(1 second)   UTC       no       - (disabled)",
      ]);
      expect(lines[4]?.trim().split(/\s+/).slice(0, 3)).toEqual(["often:", "last", "runs"]);
      // Three runs the schedule fired, each named by its start record.
      const runs = lines.slice(5, 8).map((line) => line.trim().split(/\s+/).slice(0, 3));
      for (const [id, name, state] of runs) {
        expect(id).toMatch(/^[0-9a-f]{8}$/);
        expect(name).toMatch(/^[a-z]+-[a-z]+$/);
        expect(["Completed", "Running"]).toContain(state);
      }
      expect(lines.slice(8)).toEqual(["", "never: no runs found", ""]);
    } finally {
      await stack.close();
    }
  }, 40_000);

  it("says so when a stack has no schedules, and asks for --stack or --env, not both", async () => {
    const stack = await startFakeStack("SquallPlain", local.address);
    try {
      const plain = await squall("schedules", "--stack", "SquallPlain", "--endpoint", stack.endpoint);
      expect(plain).toMatchObject({ code: 0, stderr: "" });
      expect(plain.stdout).toBe(
        `No schedules in stack 'SquallPlain' (bucket ${local.address.bucket}): the Squall construct's \`schedules\` gives some.\n`,
      );
    } finally {
      await stack.close();
    }
    expect(await squall("schedules")).toEqual({
      code: 2,
      stdout: "",
      stderr:
        "squall: Schedules live on a deployed stack or the kept local environment: give --stack <name> or --env.\n",
    });
    expect(await squall("schedules", "--env", "--stack", "X")).toMatchObject({
      code: 2,
      stderr:
        "squall: --env reads the kept local environment and --stack a deployed stack: give one of them.\n",
    });
  }, 40_000);
});
