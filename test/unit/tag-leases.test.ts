import { describe, expect, it } from "vitest";
import {
  type LeaseBucket,
  type LeaseEntry,
  leasePrefix,
  TagLeases,
} from "../../sdk/aws/worker/tag-leases.js";
import { assertValidKey } from "../../sdk/storage/keys.js";

/** A bucket in memory with S3's conditional writes, its clock set by the test; counts requests. */
class FakeBucket implements LeaseBucket {
  now = 1_000_000;
  readonly objects = new Map<string, { body: string; etag: string; lastModified: number }>();
  readonly requests: string[] = [];
  #version = 0;
  async create(key: string, value: Uint8Array): Promise<boolean> {
    this.requests.push(`PUT ${key}`);
    if (this.objects.has(key)) return false;
    this.#write(key, value);
    return true;
  }
  async replace(key: string, value: Uint8Array, etag: string): Promise<boolean> {
    this.requests.push(`PUT-IF-MATCH ${key}`);
    if (this.objects.get(key)?.etag !== etag) return false;
    this.#write(key, value);
    return true;
  }
  async delete(key: string): Promise<void> {
    this.requests.push(`DELETE ${key}`);
    this.objects.delete(key);
  }
  async entries(prefix: string): Promise<LeaseEntry[]> {
    this.requests.push(`LIST ${prefix}`);
    return [...this.objects]
      .filter(([key]) => key.startsWith(prefix))
      .map(([key, { etag, lastModified }]) => ({ key, etag, lastModified }));
  }
  holder(key: string): string | undefined {
    const body = this.objects.get(key)?.body;
    return body === undefined ? undefined : (JSON.parse(body) as { holder: string }).holder;
  }
  #write(key: string, value: Uint8Array) {
    this.#version += 1;
    this.objects.set(key, {
      body: new TextDecoder().decode(value),
      etag: `"${this.#version}"`,
      lastModified: this.now,
    });
  }
}

const leasesFor = (bucket: FakeBucket, holder: string, limits: Record<string, number> = { db: 2 }) =>
  new TagLeases({ bucket, limits, leaseSeconds: 90, holder, now: () => bucket.now });

describe("TagLeases", () => {
  it("gives out at most the limit of slots, and a slot given back is taken again", async () => {
    const bucket = new FakeBucket();
    const a = leasesFor(bucket, "a");
    const first = await a.acquire(["db"], "run 1");
    const second = await a.acquire(["db"], "run 2");
    expect(first).toBeDefined();
    expect(second).toBeDefined();
    expect(await a.acquire(["db"], "run 3")).toBeUndefined();
    expect([...bucket.objects.keys()].sort()).toEqual(["leases/db/0", "leases/db/1"]);
    await first?.();
    expect(bucket.objects.size).toBe(1);
    expect(await a.acquire(["db"], "run 3")).toBeDefined();
  });

  it("lets another worker take over the slot of a worker that died once its lease is older than leaseSeconds", async () => {
    const bucket = new FakeBucket();
    const dead = leasesFor(bucket, "dead", { db: 1 });
    expect(await dead.acquire(["db"], "run 1")).toBeDefined(); // never given back: its worker died
    const alive = leasesFor(bucket, "alive", { db: 1 });
    bucket.now += 90_000; // exactly leaseSeconds: still held
    expect(await alive.acquire(["db"], "run 2")).toBeUndefined();
    expect(bucket.holder("leases/db/0")).toBe("dead");
    bucket.now += 1;
    const release = await alive.acquire(["db"], "run 2");
    expect(release).toBeDefined();
    expect(bucket.holder("leases/db/0")).toBe("alive");
    await release?.();
    expect(bucket.objects.size).toBe(0);
  });

  it("takes a slot of each limited tag or none, and costs nothing for a run with no limited tag", async () => {
    const bucket = new FakeBucket();
    const leases = leasesFor(bucket, "w", { db: 2, api: 1 });
    const holdsApi = await leases.acquire(["api"], "run 1");
    expect(holdsApi).toBeDefined();
    // db is free but api is not: the db slot taken meanwhile is given back.
    expect(await leases.acquire(["db", "api", "other"], "run 2")).toBeUndefined();
    expect([...bucket.objects.keys()]).toEqual(["leases/api/0"]);
    await holdsApi?.();
    const both = await leases.acquire(["api", "db", "db"], "run 3");
    expect([...bucket.objects.keys()].sort()).toEqual([
      "leases/api/0",
      expect.stringMatching(/^leases\/db\/[01]$/),
    ]);
    await both?.();
    bucket.requests.length = 0;
    expect(leases.limited(["other", "more"])).toEqual([]);
    expect(await leases.acquire(["other", "more"], "run 4")).toBeDefined();
    expect(bucket.requests).toEqual([]);
  });

  it("costs one PUT and one DELETE a limited tag when its first slot tried is free", async () => {
    const bucket = new FakeBucket();
    const leases = leasesFor(bucket, "w", { db: 5 });
    const release = await leases.acquire(["db"], "run 1");
    await release?.();
    expect(bucket.requests.map((r) => r.split(" ")[0])).toEqual(["PUT", "DELETE"]);
  });

  it("keeps each tag's leases under a prefix of its own that S3 keys take, whatever the tag", async () => {
    expect(leasePrefix("db")).toBe("leases/db/");
    expect(leasePrefix("eu api")).toBe("leases/=ZXUgYXBp/");
    expect(leasePrefix("..")).toBe("leases/=Li4/");
    for (const tag of ["db", "eu api", "..", "a/b", "ü:x", "="])
      expect(() => assertValidKey(`${leasePrefix(tag)}0`)).not.toThrow();
    const bucket = new FakeBucket();
    const release = await leasesFor(bucket, "w", { "eu api": 1 }).acquire(["eu api"], "run 1");
    expect([...bucket.objects.keys()]).toEqual(["leases/=ZXUgYXBp/0"]);
    await release?.();
  });
});
