import { appendFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LocalRunBackend } from "../../sdk/records/local-backend.js";
import { followRun } from "../../sdk/records/reading.js";
import type { RecordLine } from "../../sdk/records/record.js";

// followRun over a backend: what `squall logs --follow` does with whichever backend it reads.
const dir = mkdtempSync(join(tmpdir(), "squall-reading-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const flowLine = (id: string, state: string, time: number) => ({
  kind: "flow",
  id,
  name: "witty-otter",
  definition: "nightly",
  state,
  time,
});
const log = (message: string, time: number) => ({ kind: "log", time, level: "INFO", message });

function record(root: string, id: string, ...lines: object[]): void {
  mkdirSync(join(root, "runs", id), { recursive: true });
  appendFileSync(
    join(root, "runs", id, "events.jsonl"),
    lines.map((line) => `${JSON.stringify(line)}\n`).join(""),
  );
}

describe("followRun", () => {
  it("hands over the lines there are and those added, and ends once the run is final and its record still", async () => {
    const root = join(dir, "live");
    record(root, "run-1", flowLine("run-1", "Running", 1_000), log("one", 1_001));
    const seen: string[] = [];
    const following = followRun(
      new LocalRunBackend(root, { pollMs: 20 }),
      "witty-otter",
      (line: RecordLine) => seen.push(line.kind === "log" ? line.message : line.kind),
      undefined,
      { settleMs: 200 },
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    record(root, "run-1", log("two", 1_002), flowLine("run-1", "Completed", 1_003));
    // Written just after the final state: still handed over before following ends.
    await new Promise((resolve) => setTimeout(resolve, 50));
    record(root, "run-1", log("three", 1_004));
    const summary = await following;
    expect(seen).toEqual(["flow", "one", "two", "flow", "three"]);
    expect(summary).toMatchObject({ id: "run-1", name: "witty-otter", state: "Completed", endedAt: 1_003 });
  });

  it("ends with the summary so far when aborted", async () => {
    const root = join(dir, "aborted");
    record(root, "run-2", flowLine("run-2", "Running", 2_000));
    const controller = new AbortController();
    const following = followRun(
      new LocalRunBackend(root, { pollMs: 20 }),
      "run-2",
      () => {},
      controller.signal,
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    controller.abort();
    expect(await following).toMatchObject({ id: "run-2", state: "Running" });
  });

  it("gives up with the read's error once as many reads in a row as it allows failed", async () => {
    const root = join(dir, "broken");
    // A folder where the record's file should be: found, but every read of it fails.
    mkdirSync(join(root, "runs", "run-3", "events.jsonl"), { recursive: true });
    const failing = followRun(new LocalRunBackend(root, { pollMs: 20 }), "run-3", () => {}, undefined, {
      attempts: 3,
    });
    await expect(failing).rejects.toThrow(expect.objectContaining({ code: "EISDIR" }));
  });
});
