import { randomUUID } from "node:crypto";
import {
  type _Object,
  CreateBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import {
  configureLogging,
  flow,
  getRunContext,
  InvalidArgumentError,
  readPersistedResult,
  resetLogging,
  ThreadPoolTaskRunner,
  task,
} from "squall";
import { S3ResultStore } from "squall/aws";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import { openStore } from "../../sdk/storage/open-store.js";
import { makeBlob, measure } from "../fixtures/payload-tasks.js";
import { storeContract } from "../support/store-contract.js";

const endpoint = inject("emulatorEndpoint");
const region = "us-east-1";
const bucket = `squall-s3-store-${randomUUID().slice(0, 8)}`;
const client = new S3Client({
  endpoint,
  region,
  forcePathStyle: true,
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
});

beforeAll(async () => {
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
});
afterAll(() => client.destroy());

// Engine log lines are not under test here; keep them off stderr.
beforeEach(() => configureLogging({ write: () => {} }));
afterEach(() => resetLogging());

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bytes = (text: string) => encoder.encode(text);
const text = (value: Uint8Array | undefined) => (value === undefined ? undefined : decoder.decode(value));

let stores = 0;
/** A store of its own: a fresh prefix in this file's bucket. */
function freshStore(options: { prefix?: string } = {}): S3ResultStore {
  stores += 1;
  return new S3ResultStore({ bucket, endpoint, region, prefix: options.prefix ?? `store-${stores}/` });
}

storeContract("S3ResultStore", async () => freshStore());

describe("S3ResultStore against the emulator", () => {
  it("holds both a key and keys beneath it, unlike FileResultStore", async () => {
    const store = freshStore();
    await store.put("runs/r1", bytes("the run"));
    await store.put("runs/r1/results/t1", bytes("a result"));
    expect(await store.create("runs/r1/results/t2", bytes("created"))).toBe(true);

    expect(text(await store.get("runs/r1"))).toBe("the run");
    expect(text(await store.get("runs/r1/results/t1"))).toBe("a result");
    expect(await store.exists("runs/r1")).toBe(true);
    expect(await store.list("runs/r1")).toEqual(["runs/r1", "runs/r1/results/t1", "runs/r1/results/t2"]);
    expect(await store.list("runs/r1/")).toEqual(["runs/r1/results/t1", "runs/r1/results/t2"]);
  });

  it("rejects an invalid key on get and exists, as the other stores do", async () => {
    const store = freshStore();
    await expect(store.get("../x")).rejects.toThrow(InvalidArgumentError);
    await expect(store.exists("/abs")).rejects.toThrow(InvalidArgumentError);
  });

  it("keeps its keys under its prefix in the bucket and lists them without it", async () => {
    const store = freshStore({ prefix: "tenant-a" }); // the missing "/" is added
    await store.put("runs/r1/results/t1", bytes("x"));

    const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "tenant-a" }));
    expect(listed.Contents?.map((object: _Object) => object.Key)).toEqual(["tenant-a/runs/r1/results/t1"]);
    expect(await store.list("")).toEqual(["runs/r1/results/t1"]);
    expect(store.locator).toEqual({ kind: "s3", bucket, prefix: "tenant-a/", region, endpoint });
  });

  it("does not see keys of a neighbouring prefix, and a store without a prefix sees them all", async () => {
    const near = freshStore({ prefix: "near/" });
    const nearer = freshStore({ prefix: "nearer/" });
    const whole = new S3ResultStore({ bucket, endpoint, region });
    await near.put("k", bytes("near"));
    await nearer.put("k", bytes("nearer"));

    expect(await near.list("")).toEqual(["k"]);
    expect(text(await near.get("k"))).toBe("near");
    expect(await whole.list("near")).toEqual(["near/k", "nearer/k"]);
    expect(text(await whole.get("nearer/k"))).toBe("nearer");
    expect(whole.locator).toEqual({ kind: "s3", bucket, region, endpoint });
  });

  it("lists every key when the listing takes several pages", async () => {
    const store = freshStore();
    const keys = Array.from({ length: 1_234 }, (_, i) => `runs/r1/log/${String(i).padStart(5, "0")}`);
    for (let i = 0; i < keys.length; i += 100) {
      await Promise.all(keys.slice(i, i + 100).map((key) => store.put(key, bytes("x"))));
    }

    const listed = await store.list("runs/r1/");

    expect(listed).toHaveLength(1_234);
    expect(listed).toEqual(keys);
  });

  it.each([
    ["small", 10],
    ["large", 256 * 1024],
  ])(
    "lets exactly one of 20 concurrent creates of %s values on one key win, keeping the winner's value",
    async (_, size) => {
      const store = freshStore();
      const value = (i: number) => encoder.encode(`writer ${i}:`.padEnd(size, "."));

      const outcomes = await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.create("locks/leader", value(i))),
      );

      expect(outcomes.filter((won) => won)).toEqual([true]);
      const winner = outcomes.indexOf(true);
      expect(text(await store.get("locks/leader"))).toBe(decoder.decode(value(winner)));
      expect(await store.list("locks/")).toEqual(["locks/leader"]);
    },
  );

  it("reaches an endpoint given by host name path-style, by default and when asked to", async () => {
    // By name, not by IP address: the AWS SDK addresses an IP endpoint path-style whatever it is told.
    const byName = endpoint.replace("127.0.0.1", "localhost");
    const byDefault = new S3ResultStore({ bucket, endpoint: byName, region, prefix: "by-name/" });
    const asked = new S3ResultStore({
      bucket,
      endpoint: byName,
      region,
      prefix: "by-name/",
      forcePathStyle: true,
    });

    await byDefault.put("k", bytes("by default"));

    expect(text(await asked.get("k"))).toBe("by default");
    expect(await freshStore({ prefix: "by-name/" }).list("")).toEqual(["k"]);
  });

  it("uses a client it is given", async () => {
    let sent = 0;
    const counting = new S3Client({
      endpoint,
      region,
      forcePathStyle: true,
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    });
    counting.middlewareStack.add(
      (next) => async (args) => {
        sent += 1;
        return next(args);
      },
      { step: "initialize" },
    );
    const store = new S3ResultStore({ bucket, prefix: "given-client/", client: counting });

    await store.put("k", bytes("v"));
    expect(text(await store.get("k"))).toBe("v");
    expect(sent).toBe(2);
    counting.destroy();
  });

  it("reopens from its locator with openStore, as another thread or process does", async () => {
    const store = freshStore();
    await store.put("runs/r1/results/t1", bytes("from the first instance"));

    const reopened = await openStore(store.locator);

    expect(reopened).toBeInstanceOf(S3ResultStore);
    expect(reopened).not.toBe(store);
    expect(text(await reopened.get("runs/r1/results/t1"))).toBe("from the first instance");
    expect(await reopened.create("runs/r1/results/t1", bytes("second"))).toBe(false);
    await reopened.put("runs/r1/results/t2", bytes("written through the reopened store"));
    expect(await store.list("runs/r1/")).toEqual(["runs/r1/results/t1", "runs/r1/results/t2"]);
  });

  it("says so when the bucket does not exist, rather than reporting a missing key", async () => {
    const store = new S3ResultStore({ bucket: `${bucket}-missing`, endpoint, region });

    await expect(store.get("k")).rejects.toMatchObject({ name: "NoSuchBucket" });
    await expect(store.put("k", bytes("v"))).rejects.toMatchObject({ name: "NoSuchBucket" });
  });
});

describe("persistResult with an S3ResultStore", () => {
  it("stores a task's result under runs/<flowRunId>/results/<taskRunId>, readable later", async () => {
    const store = freshStore();
    const summarize = task(
      { persistResult: true, resultStorage: store },
      function summarize(words: string[]) {
        return { count: words.length, first: words[0] ?? null, at: new Date(0) };
      },
    );
    const report = flow(async function report() {
      const future = summarize.submit(["a", "b", "c"]);
      await future.result();
      return { taskRunId: future.taskRunId, flowRunId: getRunContext().flowRun.id };
    });

    const { flowRunId, taskRunId } = await report();

    expect(await store.list(`runs/${flowRunId}/`)).toEqual([`runs/${flowRunId}/results/${taskRunId}`]);
    expect(await store.exists(`runs/${flowRunId}/results/${taskRunId}`)).toBe(true);
    const later = new S3ResultStore({ bucket, endpoint, region, prefix: store.prefix });
    expect(await readPersistedResult(later, { flowRunId, taskRunId })).toEqual({
      count: 3,
      first: "a",
      at: new Date(0),
    });
  });

  it("lists every key of a flow run under runs/<flowRunId>/", async () => {
    const store = freshStore();
    const label = task({ persistResult: true, resultStorage: store }, function label(n: number) {
      return `item ${n}`;
    });
    const labels = flow(async function labels() {
      const futures = label.map([1, 2, 3]);
      await futures.result();
      return { ids: futures.map((future) => future.taskRunId), flowRunId: getRunContext().flowRun.id };
    });

    const first = await labels();
    const second = await labels();

    for (const { ids, flowRunId } of [first, second]) {
      expect(await store.list(`runs/${flowRunId}/`)).toEqual(
        ids.map((id) => `runs/${flowRunId}/results/${id}`).sort(),
      );
    }
    expect(await store.list("runs/")).toHaveLength(6);
  });

  it("carries large values between worker threads through S3 when it is the thread pool's offload store", async () => {
    const store = freshStore();
    const runner = new ThreadPoolTaskRunner({ maxWorkers: 2, offloadStore: store, offloadAboveBytes: 1_000 });
    const byReference = flow({ taskRunner: runner }, async function byReference() {
      const blob = makeBlob.submit(5_000);
      const length = await measure.submit(blob).result();
      return { length, flowRunId: getRunContext().flowRun.id };
    });

    const { length, flowRunId } = await byReference();

    expect(length).toBe(5_000);
    const keys = await store.list(`runs/${flowRunId}/`);
    expect(keys.filter((key) => key.includes("/results/"))).toHaveLength(1);
  });
});

describe("S3ResultStore options", () => {
  it.each<[string, unknown, string]>([
    ["no bucket", {}, "Expected `bucket` to be a non-empty string, got `undefined`"],
    ["an empty bucket", { bucket: "" }, "Expected `bucket` to be a non-empty string, got ``"],
    ["a bucket that is not a string", { bucket: 7 }, "Expected `bucket` to be a non-empty string, got `7`"],
    ["an empty region", { bucket: "b", region: "" }, "Expected `region` to be a non-empty string, got ``"],
    [
      "an endpoint that is not a URL",
      { bucket: "b", endpoint: "localhost:4566" },
      "Expected `endpoint` to be an http(s) URL, got `localhost:4566`",
    ],
    [
      "a prefix with a bad segment",
      { bucket: "b", prefix: "a//b" },
      "Expected `prefix` to be `/`-separated segments of letters, digits and `._=+-` (such as `squall/`), got `a//b`",
    ],
    [
      "a prefix that climbs out",
      { bucket: "b", prefix: "../x/" },
      "Expected `prefix` to be `/`-separated segments of letters, digits and `._=+-` (such as `squall/`), got `../x/`",
    ],
    [
      "a forcePathStyle that is not a boolean",
      { bucket: "b", forcePathStyle: "yes" },
      "Expected `forcePathStyle` to be a boolean, got `yes`",
    ],
    [
      "a client that is not one",
      { bucket: "b", client: {} },
      "Expected `client` to be an S3Client, got `Object`",
    ],
    ["no options at all", undefined, "Expected S3ResultStore options to be an object, got `undefined`"],
  ])("rejects %s with InvalidArgumentError", (_, options, message) => {
    expect(() => new S3ResultStore(options as never)).toThrow(new InvalidArgumentError(message));
  });

  it("accepts a locator and ignores its kind", () => {
    const store = new S3ResultStore({ kind: "s3", bucket: "b", prefix: "p/", region: "eu-west-1" });

    expect(store.locator).toEqual({ kind: "s3", bucket: "b", prefix: "p/", region: "eu-west-1" });
  });

  it("describes exactly what it was given in its locator, never a client or credentials", () => {
    const given = new S3ResultStore({ bucket: "b", client });

    expect(given.locator).toEqual({ kind: "s3", bucket: "b" });
  });
});

describe("S3ResultStore create, when S3 answers 409 ConditionalRequestConflict", () => {
  /** A client whose PutObject with If-None-Match answers 409 `conflicts` times, then passes through. */
  function conflicting(conflicts: number): { client: S3Client; puts: () => number } {
    const wrapped = new S3Client({
      endpoint,
      region,
      forcePathStyle: true,
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    });
    let puts = 0;
    let left = conflicts;
    wrapped.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { IfNoneMatch?: string };
        if (context.commandName === "PutObjectCommand" && input.IfNoneMatch === "*") {
          puts += 1;
          if (left > 0) {
            left -= 1;
            throw Object.assign(new Error("A conflicting conditional operation is in progress"), {
              name: "ConditionalRequestConflict",
              $metadata: { httpStatusCode: 409 },
            });
          }
        }
        return next(args);
      },
      { step: "initialize" },
    );
    return { client: wrapped, puts: () => puts };
  }

  it("retries once when the key is still free, and wins", async () => {
    const { client: wrapped, puts } = conflicting(1);
    const store = new S3ResultStore({
      bucket,
      prefix: `conflict-${randomUUID().slice(0, 8)}/`,
      client: wrapped,
    });

    expect(await store.create("k", bytes("mine"))).toBe(true);
    expect(puts()).toBe(2);
    expect(text(await store.get("k"))).toBe("mine");
    wrapped.destroy();
  });

  it("returns false without retrying when the racing write landed", async () => {
    const { client: wrapped, puts } = conflicting(1);
    const prefix = `conflict-${randomUUID().slice(0, 8)}/`;
    const store = new S3ResultStore({ bucket, prefix, client: wrapped });
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}k`, Body: "theirs" }));

    expect(await store.create("k", bytes("mine"))).toBe(false);
    expect(puts()).toBe(1);
    expect(text(await store.get("k"))).toBe("theirs");
    wrapped.destroy();
  });

  it("gives up with the error after a second conflict", async () => {
    const { client: wrapped, puts } = conflicting(2);
    const store = new S3ResultStore({
      bucket,
      prefix: `conflict-${randomUUID().slice(0, 8)}/`,
      client: wrapped,
    });

    await expect(store.create("k", bytes("mine"))).rejects.toMatchObject({
      name: "ConditionalRequestConflict",
    });
    expect(puts()).toBe(2);
    expect(await store.exists("k")).toBe(false);
    wrapped.destroy();
  });
});
