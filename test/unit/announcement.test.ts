import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  type Announcement,
  announcedAddress,
  announcedEnvironment,
  announcementPath,
  describeEnvironment,
  readAnnouncement,
  removeAnnouncement,
  squallFolder,
  writeAnnouncement,
} from "../../sdk/aws/local/announcement.js";

// The announcement of a kept local environment: `.squall/env.json`, trusted while its process runs.
const FOLDER = mkdtempSync(join(tmpdir(), "squall-announcement-"));
afterAll(() => rmSync(FOLDER, { recursive: true, force: true }));

const announcement = (pid: number): Announcement => ({
  v: 1,
  pid,
  startedAt: "2026-12-07T12:00:00.000Z",
  projectRoot: FOLDER,
  endpoint: "http://127.0.0.1:4566",
  region: "us-east-1",
  bucket: "squall-0123abcd",
  taskQueueUrl: "http://127.0.0.1:4566/000000000000/squall-tasks-0123abcd",
  completionQueueUrl: "http://127.0.0.1:4566/000000000000/squall-completions-0123abcd",
  deadLetterQueueUrl: "http://127.0.0.1:4566/000000000000/squall-tasks-dlq-0123abcd",
  workerTimeoutSeconds: 60,
  callerSilenceSeconds: 180,
});

/** The PID of a process that has ended. */
function endedPid(): number {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]);
  return Number(child.stdout.toString());
}

describe("the announcement of a kept local environment", () => {
  it("is .squall/env.json in the working folder, or env.json in $SQUALL_HOME", () => {
    expect(announcementPath(squallFolder({}, "/home/ada/project"))).toBe(
      "/home/ada/project/.squall/env.json",
    );
    expect(announcementPath(squallFolder({ SQUALL_HOME: "/data/squall" }, "/home/ada/project"))).toBe(
      "/data/squall/env.json",
    );
  });

  it("is written whole, leaving no temporary file, and read back as written", () => {
    const path = join(FOLDER, "written.json");
    writeAnnouncement(path, announcement(process.pid));
    expect(readAnnouncement(path)).toEqual(announcement(process.pid));
    expect(readdirSync(FOLDER).filter((name) => name.startsWith("written"))).toEqual(["written.json"]);
  });

  it("is not read from a file that is missing, cut short, or of another format", () => {
    const path = join(FOLDER, "odd.json");
    expect(readAnnouncement(path)).toBeUndefined();
    writeFileSync(path, '{ "v": 1, "pid": 12');
    expect(readAnnouncement(path)).toBeUndefined();
    writeFileSync(path, JSON.stringify({ ...announcement(process.pid), v: 2 }));
    expect(readAnnouncement(path)).toBeUndefined();
  });

  it("is removed only by the process it names", () => {
    const path = join(FOLDER, "removed.json");
    writeAnnouncement(path, announcement(process.pid));
    removeAnnouncement(path, process.pid + 1);
    expect(existsSync(path)).toBe(true);
    removeAnnouncement(path, process.pid);
    expect(existsSync(path)).toBe(false);
  });

  it("is trusted while its process runs; a stale one is told and ignored", () => {
    const path = join(FOLDER, "stale.json");
    writeAnnouncement(path, announcement(process.pid));
    const stale: number[] = [];
    expect(announcedEnvironment((found) => stale.push(found.pid), path)).toEqual(announcement(process.pid));
    const pid = endedPid();
    writeAnnouncement(path, announcement(pid));
    expect(announcedEnvironment((found) => stale.push(found.pid), path)).toBeUndefined();
    expect(stale).toEqual([pid]);
  });

  it("carries the environment's worker pools to its callers' address, and lists them", () => {
    const pools = {
      large: {
        taskQueueUrl: "http://127.0.0.1:4566/000000000000/squall-large-0123abcd",
        workerTimeoutSeconds: 600,
      },
    };
    const path = join(FOLDER, "pools", "env.json");
    mkdirSync(join(FOLDER, "pools"), { recursive: true });
    writeAnnouncement(path, { ...announcement(process.pid), pools });
    const read = readAnnouncement(path) as Announcement;

    expect(announcedAddress(read).pools).toEqual(pools);
    expect(describeEnvironment(read)).toContain(
      "  pool large: task queue http://127.0.0.1:4566/000000000000/squall-large-0123abcd, worker timeout 600 s",
    );
    expect(announcedAddress(announcement(process.pid)).pools).toBeUndefined();
  });

  it("carries the environment's flow queue to its callers' address when it has one", () => {
    const flowQueueUrl = "http://127.0.0.1:4566/000000000000/squall-flows-0123abcd";
    const path = join(FOLDER, "flows", "env.json");
    mkdirSync(join(FOLDER, "flows"), { recursive: true });
    writeAnnouncement(path, { ...announcement(process.pid), flowQueueUrl });

    expect(announcedAddress(readAnnouncement(path) as Announcement).flowQueueUrl).toBe(flowQueueUrl);
    expect(announcedAddress(announcement(process.pid))).not.toHaveProperty("flowQueueUrl");
  });
});
