import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { flow, type TaskRunner, ThreadPoolTaskRunner } from "squall";
import { LambdaTaskRunner, type LocalEnvironment, startLocalEnvironment } from "squall/aws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRecording } from "../../sdk/cli/recorder.js";
import { cubeLoudly } from "../fixtures/print-tasks.js";

// Output a runner replays from elsewhere (a thread, a Lambda) is recorded against its task run.
let local: LocalEnvironment;
let root: string;

beforeAll(async () => {
  local = await startLocalEnvironment({ workers: 1 });
  root = mkdtempSync(join(tmpdir(), "squall-prints-"));
});
afterAll(async () => {
  await local?.stop();
  rmSync(root, { recursive: true, force: true });
});

async function printsOf(taskRunner: TaskRunner) {
  const recording = startRecording({ root });
  const printing = flow({ taskRunner }, async function printing() {
    return cubeLoudly.map([2, 3]).result();
  });
  const state = await printing.run();
  await recording.stop();
  const lines = readFileSync(join(root, "runs", state.flowRun.id, "events.jsonl"), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line));
  const tasks = new Map(lines.filter((l) => l.kind === "task").map((l) => [l.id, l.name]));
  return lines
    .filter((l) => l.kind === "print" && /^cubing/.test(l.text))
    .map((l) => [tasks.get(l.taskRunId), l.text])
    .sort();
}

describe("recorded console output of tasks run elsewhere", () => {
  it("attributes a Lambda task's replayed prints to its task run", async () => {
    expect(await printsOf(new LambdaTaskRunner(local.address))).toEqual([
      ["cubeLoudly-0", "cubing 2"],
      ["cubeLoudly-1", "cubing 3"],
    ]);
  });

  it("attributes a thread task's prints to its task run", async () => {
    expect(await printsOf(new ThreadPoolTaskRunner({ maxWorkers: 1 }))).toEqual([
      ["cubeLoudly-0", "cubing 2"],
      ["cubeLoudly-1", "cubing 3"],
    ]);
  });
});
