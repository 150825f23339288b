// What the Lambda runner tells `squall run`'s display between run events: that it starts a
// local environment and which environment the runs use, each run queued (not sent yet) then
// sent, and a run whose attempt failed retrying while its retry waits in the queue.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { configureLogging, flow, observeRuns, resetLogging } from "squall";
import { LambdaTaskRunner, type LocalEnvironment, startLocalEnvironment } from "squall/aws";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Tally } from "../../sdk/cli/tally.js";
import { observeProgress, type RunProgress } from "../../sdk/observe.js";
import { cube, flakyWithoutRetries } from "../fixtures/lambda-runner-tasks.js";
import { sleep } from "../support/async.js";

beforeEach(() => configureLogging({ write: () => {} }));
afterEach(() => resetLogging());

let local: LocalEnvironment;
let dir: string;

beforeAll(async () => {
  [local, dir] = await Promise.all([
    startLocalEnvironment({ workers: 2 }),
    mkdtemp(join(tmpdir(), "squall-progress-")),
  ]);
}, 30_000);
afterAll(async () => {
  await local?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Follows the run events and the runner's progress into a tally, as `squall run` does. */
function follow() {
  const tally = new Tally(0);
  const progress: RunProgress[] = [];
  const stops = [
    observeRuns((event) => tally.add(event)),
    observeProgress((report) => {
      progress.push(report);
      tally.progress(report);
    }),
  ];
  const stop = () => {
    for (const stopping of stops) stopping();
  };
  return { tally, progress, stop };
}

describe("the Lambda runner's progress", () => {
  it("reports each run queued then sent, and a run whose retry waits as retrying until it ends", async () => {
    const file = join(dir, "retrying.count");
    const { tally, progress, stop } = follow();
    const seen: string[] = [];
    const retried = flow(
      { taskRunner: new LambdaTaskRunner(local.address) },
      async function retriedWhileWatched() {
        const flaky = flakyWithoutRetries.withOptions({ retries: 2, retryDelaySeconds: 2 }).submit(file);
        const cubes = cube.map([1, 2]);
        await cubes.result();
        // The first attempt failed; its retry waits 2 s in the queue: the record says so.
        for (let waited = 0; tally.counts.retrying === 0 && waited < 10_000; waited += 20) await sleep(20);
        seen.push(tally.describe(0).split(" · ")[0] as string);
        return flaky.result();
      },
    );
    try {
      expect(await retried()).toBe("attempt 3 succeeds (count 3)");
    } finally {
      stop();
    }
    expect(seen).toEqual(["0 pending, 0 sent, 1 retrying, 2 completed, 0 failed"]);
    expect(tally.describe(0).split(" · ")[0]).toBe("0 pending, 0 sent, 3 completed, 0 failed");
    const byRun = new Map<string, string[]>();
    for (const report of progress) {
      if (report.kind !== "task") continue;
      byRun.set(report.id, [...(byRun.get(report.id) ?? []), report.phase]);
    }
    const phases = [...byRun.values()].map((list) => list.join(" "));
    expect(phases.sort()).toEqual(["queued sent", "queued sent", "queued sent retrying retrying"]);
    // The local environment was given: none started.
    expect(progress.filter((report) => report.kind === "environment")).toEqual([
      {
        kind: "environment",
        phase: "ready",
        description: `the address given at ${local.address.endpoint}, bucket ${local.address.bucket}`,
      },
    ]);
  });

  it("says it starts a local environment before it does, then where the runs go", async () => {
    const { progress, stop } = follow();
    const onTheFly = new LambdaTaskRunner({ local: { workers: 1 } });
    let endpoint = "";
    let bucket = "";
    const started = flow({ taskRunner: onTheFly }, async function startedWhileWatched() {
      endpoint = onTheFly.localEnvironment?.address.endpoint ?? "";
      bucket = onTheFly.localEnvironment?.address.bucket ?? "";
      return cube.submit(2).result();
    });
    try {
      expect(await started()).toBe(8);
    } finally {
      stop();
    }
    expect(progress.filter((report) => report.kind === "environment")).toEqual([
      { kind: "environment", phase: "starting", description: "the local environment" },
      {
        kind: "environment",
        phase: "ready",
        description: `a local environment of this flow run's at ${endpoint}, bucket ${bucket}`,
      },
    ]);
  });
});
