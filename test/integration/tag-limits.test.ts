import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { configureLogging, flow, resetLogging } from "squall";
import { LambdaTaskRunner, type LocalEnvironment, S3ResultStore, startLocalEnvironment } from "squall/aws";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { dbHangsOnce, dbStep, plainStep } from "../fixtures/tag-limit-tasks.js";

beforeEach(() => configureLogging({ write: () => {} }));
afterEach(() => resetLogging());

let local: LocalEnvironment;
let folder: string;

beforeAll(async () => {
  local = await startLocalEnvironment({ workers: 2, tagLimits: { db: 3 } });
  folder = mkdtempSync(join(tmpdir(), "squall-tag-limits-"));
}, 30_000);
afterAll(async () => {
  await local?.stop();
  rmSync(folder, { recursive: true, force: true });
});

/** The most runs between their start and end lines at once, and the starts and ends by run. */
function readLedger(file: string) {
  let now = 0;
  let most = 0;
  const starts = new Map<number, number>();
  const ends = new Map<number, number>();
  for (const line of readFileSync(file, "utf8").trim().split("\n")) {
    const [what, n] = line.split(" ");
    const i = Number(n);
    if (what === "start") {
      now += 1;
      starts.set(i, (starts.get(i) ?? 0) + 1);
    } else {
      now -= 1;
      ends.set(i, (ends.get(i) ?? 0) + 1);
    }
    most = Math.max(most, now);
  }
  return { most, starts, ends };
}

describe("concurrency limits by tag on the local environment's workers", () => {
  it("runs at most 3 runs tagged db at once across two worker threads, each once", async () => {
    const ledger = join(folder, "db.txt");
    const leaseRequests = local.emulator.watchKeys("leases/");
    const runner = new LambdaTaskRunner({ ...local.address, tasksPerMessage: 1 });
    const load = flow({ taskRunner: runner }, async function limitedLoad(n: number) {
      return dbStep.map(ledger, [...Array(n).keys()]).result();
    });

    const results = await load(20);

    expect(results).toEqual([...Array(20).keys()]);
    const { most, starts, ends } = readLedger(ledger);
    expect(most).toBe(3);
    const once = new Map([...Array(20).keys()].map((i) => [i, 1]));
    expect(starts).toEqual(once);
    expect(ends).toEqual(once);
    expect(leaseRequests()).toBeGreaterThanOrEqual(40); // a create and a delete per run, at least
    // Every slot was given back.
    const store = new S3ResultStore({ bucket: local.address.bucket, client: local.emulator.s3Client() });
    expect(await store.list("leases/")).toEqual([]);
  }, 90_000);

  it("asks nothing of the bucket's leases for runs with no limited tag", async () => {
    const leaseRequests = local.emulator.watchKeys("leases/");
    const before = leaseRequests();
    const runner = new LambdaTaskRunner(local.address);
    const plain = flow({ taskRunner: runner }, async function plainLoad(n: number) {
      return plainStep.map([...Array(n).keys()]).result();
    });

    expect(await plain(30)).toEqual([...Array(30).keys()].map((i) => i * 2));
    expect(leaseRequests() - before).toBe(0);
  }, 60_000);
});

describe("a slot held by a worker that died", () => {
  let dying: LocalEnvironment;
  beforeAll(async () => {
    // One death alone would end a suspect Crashed: the waits for a slot must not count as deaths.
    dying = await startLocalEnvironment({
      workers: 1,
      workerTimeoutSeconds: 5,
      maxDeaths: 1,
      tagLimits: { db: 1 },
    });
  }, 30_000);
  afterAll(async () => {
    await dying?.stop();
  });

  it("frees once its lease is older than the worker's timeout plus 30 s, and the run then runs", async () => {
    const marker = join(folder, "hang.txt");
    const runner = new LambdaTaskRunner(dying.address);
    const once = flow({ taskRunner: runner }, async function slotOfTheDead() {
      // Packed in one message: delivered again after the kill, it is split into suspects, and the
      // hanging run stays a suspect each time it goes back for want of a slot.
      const hangs = dbHangsOnce.submit(marker);
      const plain = plainStep.submit(1);
      return [await hangs.result(), await plain.result()];
    });
    const result = once();
    while (!existsSync(marker)) await new Promise((r) => setTimeout(r, 20));
    const killedAt = Date.now();
    expect(dying.kill("worker")).toBe(true);

    expect(await result).toEqual(["ran", 2]);
    const [, ranAt] = readFileSync(marker, "utf8").trim().split("\n").map(Number);
    // The lease was written before the run started, so it expired 35 s after that at the latest.
    expect((ranAt as number) - killedAt).toBeGreaterThanOrEqual(35_000 - 1_000);
    const store = new S3ResultStore({ bucket: dying.address.bucket, client: dying.emulator.s3Client() });
    expect(await store.list("leases/")).toEqual([]);
  }, 90_000);
});
