import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startKey } from "../../sdk/aws/cli/scheduled-runs.js";
import { announcedAddress, processRuns, readAnnouncement } from "../../sdk/aws/local/announcement.js";
import { readSummary } from "../../sdk/aws/record/run-log.js";
import { bucketStore, runIds } from "../../sdk/aws/records/bucket-runs.js";
import { PROJECT_ROOT } from "../support/local-environment.js";

// `squall env start --flows <module> --schedules <file.json>`: the kept environment fires the
// schedules, announces them, and `squall schedules --env` lists them with their last runs.

const HOME = mkdtempSync(join(tmpdir(), "squall-env-schedules-"));
const SCHEDULES = join(HOME, "schedules.json");
const ANNOUNCEMENT = join(HOME, ".squall", "env.json");
let pid: number | undefined;

afterAll(() => {
  if (pid !== undefined && processRuns(pid)) process.kill(pid, "SIGKILL");
  rmSync(HOME, { recursive: true, force: true });
});

function squall(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", SQUALL_HOME: join(HOME, ".squall") };
  for (const name of Object.keys(env))
    if (name.startsWith("SQUALL_") && name !== "SQUALL_HOME") delete env[name];
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["sdk/cli/squall.js", ...args],
      { cwd: PROJECT_ROOT, env, timeout: 60_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

describe("a kept environment's schedules", () => {
  it("fire, are announced, and squall schedules --env lists them with their last runs", async () => {
    writeFileSync(
      SCHEDULES,
      JSON.stringify([
        { name: "often", flow: "stamping", rate: "2 seconds", params: ["kept", 1] },
        { name: "nightly", flow: "stamping", cron: "0 2 * * *", timezone: "Europe/Paris", enabled: false },
      ]),
    );
    const started = await squall(
      "env",
      "start",
      "--workers",
      "1",
      "--flows",
      "test/fixtures/scheduled-flows.ts",
      "--schedules",
      SCHEDULES,
    );
    expect(started.code).toBe(0);
    const announcement = readAnnouncement(ANNOUNCEMENT);
    pid = announcement?.pid;
    expect(announcement?.schedules).toEqual([
      { name: "often", flow: "stamping", expression: "rate(2 seconds)", timezone: "UTC", enabled: true },
      {
        name: "nightly",
        flow: "stamping",
        expression: "cron(0 2 * * ? *)",
        timezone: "Europe/Paris",
        enabled: false,
      },
    ]);
    expect(announcement?.flowRunnerFunctionName).toMatch(/^squall-flow-runner-/);
    expect(started.stderr).toContain("  schedule often: flow stamping, rate(2 seconds) UTC\n");

    // The runs the schedule fired, each with the start the flow-runner wrote for it.
    const { s3, store } = bucketStore(announcedAddress(announcement as NonNullable<typeof announcement>));
    const names = new Map<string, string>();
    try {
      for (const end = Date.now() + 30_000; names.size === 0 && Date.now() < end; ) {
        for (const id of await runIds(s3, announcement?.bucket as string)) {
          if ((await readSummary(store, id))?.state !== "Completed") continue;
          const start = await store.get(startKey(id));
          const json = start && JSON.parse(new TextDecoder().decode(start));
          if (json?.schedule === "often" && json.flow === "stamping")
            names.set(id.slice(0, 8), json.flowRunName);
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(names.size).toBeGreaterThan(0);
    } finally {
      s3.destroy();
    }

    const listed = await squall("schedules", "--env");

    expect(listed.code).toBe(0);
    const lines = listed.stdout.split("\n");
    expect(lines[0]).toBe("NAME     FLOW      EXPRESSION         TIMEZONE      ENABLED  NEXT");
    expect(lines[1]).toMatch(
      /^often {4}stamping {2}rate\(2 seconds\) {4}UTC {11}yes {6}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(in (\d+ ms|[01]\.\d\d s|2\.00 s)\)$/,
    );
    expect(lines[2]).toBe("nightly  stamping  cron(0 2 * * ? *)  Europe/Paris  no       - (disabled)");
    expect(lines[4]?.trim().split(/\s+/).slice(0, 3)).toEqual(["often:", "last", "runs"]);
    // The newest three runs it fired (it fires on while the command runs), each named as its start says.
    const runs = lines.slice(5, lines.indexOf("", 5)).map((line) => line.trim().split(/\s+/).slice(0, 3));
    expect(runs.length).toBeGreaterThanOrEqual(1);
    expect(runs.length).toBeLessThanOrEqual(3);
    for (const [id, name, state] of runs) {
      expect(["Completed", "Running"]).toContain(state);
      if (names.has(id as string)) expect(name).toBe(names.get(id as string));
      else expect(name).toMatch(/^[a-z]+-[a-z]+$/);
    }
    expect(lines.slice(5 + runs.length)).toEqual(["", "nightly: no runs found", ""]);

    expect((await squall("env", "stop")).code).toBe(0);
  }, 90_000);
});
