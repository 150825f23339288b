import { InvalidArgumentError, type ResultStore } from "squall";
import { beforeEach, describe, expect, it } from "vitest";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bytes = (text: string) => encoder.encode(text);
const text = (value: Uint8Array | undefined) => (value === undefined ? undefined : decoder.decode(value));

/**
 * Declares the tests every ResultStore passes, as `describe(name)`. `makeStore` gives a new,
 * empty store for each test.
 */
export function storeContract(name: string, makeStore: () => Promise<ResultStore>): void {
  describe(name, () => {
    let store: ResultStore;
    beforeEach(async () => {
      store = await makeStore();
    });

    it("gives back the bytes that were put", async () => {
      const value = new Uint8Array([0, 1, 2, 254, 255]);
      await store.put("results/one", value);

      const got = await store.get("results/one");

      expect(got).toBeInstanceOf(Uint8Array);
      expect(Array.from(got ?? [])).toEqual([0, 1, 2, 254, 255]);
    });

    it("keeps its own copy of the bytes", async () => {
      const value = bytes("abc");
      await store.put("copied", value);
      value[0] = 120; // "x"
      const got = await store.get("copied");
      if (got) got[1] = 121; // "y"

      expect(text(await store.get("copied"))).toBe("abc");
    });

    it("round-trips an empty value", async () => {
      await store.put("empty", new Uint8Array());

      expect(Array.from((await store.get("empty")) ?? [1])).toEqual([]);
      expect(await store.exists("empty")).toBe(true);
    });

    it("gives undefined for a key that was never put", async () => {
      await store.put("present", bytes("x"));

      expect(await store.get("absent")).toBeUndefined();
      expect(await store.get("absent/below")).toBeUndefined();
      expect(await store.get("pres")).toBeUndefined();
    });

    it("says whether a key exists", async () => {
      await store.put("a/b/c", bytes("x"));

      expect(await store.exists("a/b/c")).toBe(true);
      expect(await store.exists("a/b")).toBe(false); // a prefix is not a key
      expect(await store.exists("a/b/d")).toBe(false);
    });

    it("lists the keys under a prefix, sorted, nested keys included", async () => {
      for (const key of ["runs/r2/results/t1", "runs/r1/results/t2", "runs/r1/results/t1", "runs/r1/meta"]) {
        await store.put(key, bytes(key));
      }
      await store.put("cache/k1", bytes("c"));
      await store.put("runsheet", bytes("not under runs/"));

      expect(await store.list("runs/r1/")).toEqual([
        "runs/r1/meta",
        "runs/r1/results/t1",
        "runs/r1/results/t2",
      ]);
      expect(await store.list("runs/")).toEqual([
        "runs/r1/meta",
        "runs/r1/results/t1",
        "runs/r1/results/t2",
        "runs/r2/results/t1",
      ]);
      expect(await store.list("runs/r1/results/t")).toEqual(["runs/r1/results/t1", "runs/r1/results/t2"]);
      expect(await store.list("run")).toEqual([
        "runs/r1/meta",
        "runs/r1/results/t1",
        "runs/r1/results/t2",
        "runs/r2/results/t1",
        "runsheet",
      ]);
      expect(await store.list("")).toEqual([
        "cache/k1",
        "runs/r1/meta",
        "runs/r1/results/t1",
        "runs/r1/results/t2",
        "runs/r2/results/t1",
        "runsheet",
      ]);
    });

    it("lists nothing for a prefix nothing is stored under", async () => {
      expect(await store.list("runs/")).toEqual([]);
      await store.put("runs/r1/results/t1", bytes("x"));

      expect(await store.list("runs/r9/")).toEqual([]);
      expect(await store.list("cache/")).toEqual([]);
      expect(await store.list("zzz")).toEqual([]);
    });

    it("creates a key once: the second create returns false and leaves the first value", async () => {
      expect(await store.create("locks/job", bytes("first"))).toBe(true);
      expect(await store.create("locks/job", bytes("second"))).toBe(false);

      expect(text(await store.get("locks/job"))).toBe("first");
      expect(await store.list("locks/")).toEqual(["locks/job"]);
    });

    it("does not create over a value that was put", async () => {
      await store.put("taken", bytes("put"));

      expect(await store.create("taken", bytes("created"))).toBe(false);
      expect(text(await store.get("taken"))).toBe("put");
    });

    it("overwrites on put", async () => {
      await store.put("k", bytes("one"));
      await store.put("k", bytes("two"));

      expect(text(await store.get("k"))).toBe("two");
      expect(await store.list("")).toEqual(["k"]);
    });

    it.each(["../x", "/abs", "a//b", "", "a/../b", "a/./b", "trailing/", "with space", "back\\slash"])(
      "rejects the key %j on put and create with InvalidArgumentError",
      async (key) => {
        const message = `Expected a store key of \`/\`-separated segments of letters, digits and \`._=+-\`, got \`${key}\``;
        await expect(store.put(key, bytes("x"))).rejects.toThrow(new InvalidArgumentError(message));
        await expect(store.create(key, bytes("x"))).rejects.toThrow(new InvalidArgumentError(message));
        expect(await store.list("")).toEqual([]);
      },
    );
  });
}
