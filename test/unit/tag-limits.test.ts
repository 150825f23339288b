import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConcurrentTaskRunner, flow, InvalidArgumentError, ThreadPoolTaskRunner, task } from "squall";
import { startLocalEnvironment, workerHandler } from "squall/aws";
import { describe, expect, it } from "vitest";
import { dbStep } from "../fixtures/tag-limit-tasks.js";
import { sleep } from "../support/async.js";

/** Runs in progress by tag, and the most seen at once. */
class Ledger {
  readonly now = new Map<string, number>();
  readonly most = new Map<string, number>();
  readonly done: string[] = [];
  enter(tags: readonly string[]): void {
    for (const tag of tags) {
      const n = (this.now.get(tag) ?? 0) + 1;
      this.now.set(tag, n);
      this.most.set(tag, Math.max(this.most.get(tag) ?? 0, n));
    }
  }
  leave(tags: readonly string[], label: string): void {
    for (const tag of tags) this.now.set(tag, (this.now.get(tag) ?? 0) - 1);
    this.done.push(label);
  }
}

describe("ConcurrentTaskRunner tagLimits", () => {
  it("runs at most the limit of runs tagged db at once, and all of them once", async () => {
    const ledger = new Ledger();
    const query = task({ tags: ["db"] }, async function tlQuery(i: number) {
      ledger.enter(["db"]);
      await sleep(5 + (i % 3) * 3);
      ledger.leave(["db"], `q${i}`);
      return i;
    });
    const free = task(async function tlFree(i: number) {
      ledger.enter(["free"]);
      await sleep(10);
      ledger.leave(["free"], `f${i}`);
      return i;
    });
    const load = flow(
      { taskRunner: new ConcurrentTaskRunner({ tagLimits: { db: 2 } }) },
      async function tlLoad() {
        const queried = query.map([...Array(12).keys()]);
        const freed = free.map([...Array(6).keys()]);
        return [await queried.result(), await freed.result()];
      },
    );
    const [queried, freed] = (await load()) as [number[], number[]];
    expect(queried).toEqual([...Array(12).keys()]);
    expect(freed).toEqual([...Array(6).keys()]);
    expect(ledger.most.get("db")).toBe(2);
    // Untagged runs are not held back by the limit.
    expect(ledger.most.get("free")).toBe(6);
    expect(ledger.done.filter((d) => d.startsWith("q")).sort()).toEqual(
      [...Array(12).keys()].map((i) => `q${i}`).sort(),
    );
  });

  it("takes a slot of each limited tag, and holds the limit across flow runs of one runner", async () => {
    const ledger = new Ledger();
    const both = task({ tags: ["db", "api"] }, async function tlBoth(i: number) {
      ledger.enter(["db", "api"]);
      await sleep(5);
      ledger.leave(["db", "api"], `b${i}`);
    });
    const api = task({ tags: ["api"] }, async function tlApi(i: number) {
      ledger.enter(["api"]);
      await sleep(5);
      ledger.leave(["api"], `a${i}`);
    });
    const runner = new ConcurrentTaskRunner({ tagLimits: { db: 3, api: 1 } });
    const mixed = flow({ taskRunner: runner }, async function tlMixed(n: number) {
      await Promise.all([both.map([...Array(n).keys()]).result(), api.map([...Array(n).keys()]).result()]);
    });
    await Promise.all([mixed(4), mixed(4)]);
    expect(ledger.most.get("api")).toBe(1);
    expect(ledger.most.get("db")).toBe(1);
    expect(ledger.done).toHaveLength(16);
  });

  it("refuses bad limits, saying which", () => {
    expect(() => new ConcurrentTaskRunner({ tagLimits: { db: 0 } })).toThrow(
      new InvalidArgumentError("Expected `tagLimits.db` to be an integer >= 1, got `0`"),
    );
    expect(() => new ConcurrentTaskRunner({ tagLimits: { db: 1.5 } })).toThrow(
      new InvalidArgumentError("Expected `tagLimits.db` to be an integer >= 1, got `1.5`"),
    );
    expect(() => new ConcurrentTaskRunner({ tagLimits: { "": 2 } })).toThrow(
      new InvalidArgumentError("Expected the tags of `tagLimits` to be non-empty"),
    );
    expect(() => new ConcurrentTaskRunner({ tagLimits: [2] as never })).toThrow(
      new InvalidArgumentError("Expected `tagLimits` to be an object of tag → limit, got `[2]`"),
    );
  });
});

describe("ThreadPoolTaskRunner tagLimits", () => {
  it("runs at most the limit of runs tagged db at once across its threads, each once", async () => {
    const folder = mkdtempSync(join(tmpdir(), "squall-thread-limits-"));
    try {
      const ledger = join(folder, "db.txt");
      const runner = new ThreadPoolTaskRunner({ maxWorkers: 2, tagLimits: { db: 3 } });
      const load = flow({ taskRunner: runner }, async function tlThreads(n: number) {
        return dbStep.map(ledger, [...Array(n).keys()]).result();
      });
      expect(await load(12)).toEqual([...Array(12).keys()]);
      let now = 0;
      let most = 0;
      const starts: string[] = [];
      for (const line of readFileSync(ledger, "utf8").trim().split("\n")) {
        if (line.startsWith("start")) starts.push(line);
        now += line.startsWith("start") ? 1 : -1;
        most = Math.max(most, now);
      }
      expect(most).toBe(3);
      expect(starts.sort()).toEqual([...Array(12).keys()].map((i) => `start ${i}`).sort());
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it("refuses bad limits, saying which", () => {
    expect(() => new ThreadPoolTaskRunner({ tagLimits: { db: Number.NaN } })).toThrow(
      new InvalidArgumentError("Expected `tagLimits.db` to be an integer >= 1, got `NaN`"),
    );
  });
});

describe("tagLimits of the local environment and the worker function", () => {
  it("refuses bad limits before starting anything", async () => {
    await expect(startLocalEnvironment({ tagLimits: { db: -1 } })).rejects.toThrow(
      new InvalidArgumentError("Expected `tagLimits.db` to be an integer >= 1, got `-1`"),
    );
  });

  it("refuses a worker environment whose SQUALL_TAG_LIMITS is not JSON of limits", () => {
    const env = {
      SQUALL_TASK_QUEUE_URL: "http://127.0.0.1:9/000000000000/tasks",
      SQUALL_COMPLETION_QUEUE_URL: "http://127.0.0.1:9/000000000000/completions",
      SQUALL_BUCKET: "results",
      SQUALL_REGION: "us-east-1",
    };
    expect(() => workerHandler({ env: { ...env, SQUALL_TAG_LIMITS: "db=2" } })({ Records: [] })).toThrow(
      new InvalidArgumentError("Expected SQUALL_TAG_LIMITS to be JSON, got `db=2`"),
    );
    expect(() =>
      workerHandler({ env: { ...env, SQUALL_TAG_LIMITS: '{"db":"2"}' } })({ Records: [] }),
    ).toThrow(new InvalidArgumentError('Expected `SQUALL_TAG_LIMITS.db` to be an integer >= 1, got `"2"`'));
  });
});
