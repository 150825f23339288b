import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { flow, observeRuns } from "squall";
import { LambdaTaskRunner, type LocalEnvironment, startLocalEnvironment } from "squall/aws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BucketRunBackend } from "../../sdk/aws/records/bucket-backend.js";
import { startRecording } from "../../sdk/cli/recorder.js";
import { RecordsUnreadableError, type RunBackend, RunLookupError } from "../../sdk/records/backend.js";
import { LocalRunBackend } from "../../sdk/records/local-backend.js";
import { followRun, readDetail } from "../../sdk/records/reading.js";
import type { RecordLine } from "../../sdk/records/record.js";
import type { RunSummary } from "../../sdk/records/run-fold.js";
import { brew } from "../fixtures/dashboard-tasks.js";

// One flow run, recorded twice: in the local record by the recorder `squall run` starts, and in
// the bucket by the local environment's coordinator. Every command and the dashboard read runs
// through a RunBackend; both backends must give the same answers about the same run.
let local: LocalEnvironment;
let root: string;
let id: string;
let name: string;
const followed = new Map<string, { lines: RecordLine[]; summary: RunSummary; whileLive: boolean }>();

const backends = (): [string, RunBackend][] => [
  ["local", new LocalRunBackend(root, { pollMs: 50 })],
  [
    "bucket",
    new BucketRunBackend(local.address, {
      where: `stack 'Test' (bucket ${local.address.bucket})`,
      lister: "squall runs --stack Test",
    }),
  ],
];

const until = async (check: () => Promise<boolean>) => {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 50));
};

beforeAll(async () => {
  local = await startLocalEnvironment({ workers: 1 });
  root = mkdtempSync(join(tmpdir(), "squall-backends-"));
  const recording = startRecording({ root });
  let seen: { id: string; name: string } | undefined;
  const stop = observeRuns((event) => {
    if (event.kind === "flow" && event.definition === "brewing") seen ??= { id: event.id, name: event.name };
  });
  let ended = false;
  const brewing = flow({ taskRunner: new LambdaTaskRunner(local.address) }, async function brewing() {
    await brew.submit("stout", 400).wait();
    await brew.submit("porter", 400).wait();
  });
  const running = brewing.run().finally(() => {
    ended = true;
  });
  // Each follows the run from as soon as its backend has it (the bucket: its first outcome).
  const following = backends().map(async ([kind, backend]) => {
    await until(async () => seen !== undefined && (await backend.summary(seen.id)) !== undefined);
    const lines: RecordLine[] = [];
    let whileLive: boolean | undefined;
    const summary = await followRun(backend, (seen as { id: string }).id, (line) => {
      whileLive ??= !ended;
      lines.push(line);
    });
    followed.set(kind, { lines, summary, whileLive: whileLive ?? false });
  });
  const state = await running;
  await recording.stop();
  stop();
  expect(state.type).toBe("COMPLETED");
  await Promise.all(following);
  ({ id, name } = seen as { id: string; name: string });
}, 60_000);

afterAll(async () => {
  await local?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe.each(["local", "bucket"])("the %s run backend", (kind) => {
  const backend = () => (backends().find(([k]) => k === kind) as [string, RunBackend])[1];

  it("follows a live run to its final state, with the lines reading it afterwards gives", async () => {
    const { lines, summary, whileLive } = followed.get(kind) ?? expect.fail("not followed");
    expect(whileLive).toBe(true);
    expect(summary).toMatchObject({ id, name, flowName: "brewing", state: "Completed" });
    expect(summary.counts).toMatchObject({ completed: 2, failed: 0, crashed: 0 });
    expect(lines.filter((line) => line.kind === "flow").at(-1)).toMatchObject({ id, state: "Completed" });

    const record = await backend().read(id);
    expect(record?.events).toEqual(lines);
    expect(record?.summary).toMatchObject({ id, name, state: "Completed", final: true });
    // From the end on there is nothing more; from the start, every line with the position after it.
    const handed: number[] = [];
    const follower = backend().follow(id, 0, (_line, next) => handed.push(next));
    await follower.caughtUp;
    follower.stop();
    expect(handed).toHaveLength(lines.length);
    expect(handed.at(-1)).toBe(record?.offset);
    expect([...handed].sort((a, b) => a - b)).toEqual(handed);
  });

  it("tells the same run: its task runs, its summary in the list, its name and id prefix", async () => {
    const detail = await readDetail(backend(), name);
    expect(detail.flowRun).toMatchObject({ id, name, flowName: "brewing", state: "Completed" });
    expect(detail.tasks.map((task) => [task.name, task.task, task.state, task.attempts])).toEqual([
      ["brew-0", "brew", "Completed", 1],
      ["brew-1", "brew", "Completed", 1],
    ]);
    expect(
      detail.logs
        .filter((line) => line.kind === "log" && line.taskRunName)
        .map((line) => line.kind === "log" && line.message),
    ).toEqual(["brewing stout for 400 ms", "brewing porter for 400 ms"]);

    const listed = (await backend().list()).find((run) => run.id === id);
    expect(listed).toMatchObject({ name, flowName: "brewing", state: "Completed", final: true });
    expect(await backend().summary(id)).toMatchObject({ id, state: "Completed", final: true });
    expect(await backend().resolve(id.slice(0, 8))).toBe(id);
    expect(await backend().resolve(name)).toBe(id);
  });

  it("has no run of an id that is not one, and says what lists them for a name that names none", async () => {
    for (const missing of ["no-such-run", "../runs", ""]) {
      expect(await backend().summary(missing)).toBeUndefined();
      expect(await backend().read(missing)).toBeUndefined();
    }
    const where =
      kind === "local"
        ? `is recorded in ${root}: \`squall runs\``
        : `in stack 'Test' (bucket ${local.address.bucket}): \`squall runs --stack Test\``;
    await expect(backend().resolve("no-such-run")).rejects.toThrow(
      new RunLookupError(
        `No flow run \`no-such-run\` ${where} lists them (by id, or name such as \`witty-otter\`).`,
      ),
    );
  });
});

describe("a bucket that cannot be read", () => {
  it("is one error saying which and what to check, and each failed read while following is told", async () => {
    const gone = new BucketRunBackend({ ...local.address, bucket: "squall-no-such-bucket" });
    const listing = gone.list();
    await expect(listing).rejects.toThrow(RecordsUnreadableError);
    await expect(listing).rejects.toThrow(
      /^Could not read the flow runs in bucket squall-no-such-bucket: .+\. Check that the credentials may list and read the bucket \(s3:ListBucket, s3:GetObject\)\.$/,
    );
    await expect(gone.resolve("witty-otter")).rejects.toThrow(RecordsUnreadableError);

    const inARow: number[] = [];
    await new Promise<void>((done) => {
      const follower = gone.follow("some-run", 0, () => {}, {
        onError: (_error, count) => {
          inARow.push(count);
          if (count === 3) {
            follower.stop();
            done();
          }
        },
      });
    });
    expect(inARow).toEqual([1, 2, 3]);
  });
});
