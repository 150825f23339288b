import { describe, expect, it } from "vitest";
import { awaitRun } from "../../sdk/records/await-run.js";
import { type RunBackend, RunLookupError } from "../../sdk/records/backend.js";

const ID = "0b7c4f8e-3d1a-4c2b-9e5f-6a7b8c9d0e1f";

/** A backend whose runs are `ids()` at the time of asking; it reads nothing else. */
function backendOf(ids: () => string[]): RunBackend & { asked: number } {
  const backend = {
    where: "bucket b",
    asked: 0,
    async resolve(run: string) {
      backend.asked += 1;
      if (ids().includes(run)) return run;
      throw new RunLookupError(`No flow run \`${run}\` in bucket b`);
    },
  };
  return backend as unknown as RunBackend & { asked: number };
}

describe("awaitRun", () => {
  it("waits for a run id that is not there yet, saying so once, and resolves once it appears", async () => {
    const ids: string[] = [];
    const backend = backendOf(() => ids);
    const waited: string[] = [];
    setTimeout(() => ids.push(ID), 50);

    const id = await awaitRun(backend, ID, { pollMs: 10, onWait: (run) => waited.push(run) });

    expect(id).toBe(ID);
    expect(waited).toEqual([ID]);
    expect(backend.asked).toBeGreaterThan(2);
  });

  it("gives up after its time, saying where it looked", async () => {
    const backend = backendOf(() => []);

    await expect(awaitRun(backend, ID, { pollMs: 10, timeoutMs: 50 })).rejects.toThrow(
      new RunLookupError(
        `No flow run ${ID} appeared in bucket b within 0 s: check that it was started there (squall runs lists the runs).`,
      ),
    );
  });

  it("does not wait for a name or a prefix: those name runs already there", async () => {
    const backend = backendOf(() => []);

    await expect(awaitRun(backend, "witty-otter", { pollMs: 10 })).rejects.toThrow(
      "No flow run `witty-otter` in bucket b",
    );
    await expect(awaitRun(backend, ID.slice(0, 8), { pollMs: 10 })).rejects.toThrow(RunLookupError);
    expect(backend.asked).toBe(2);
  });
});
