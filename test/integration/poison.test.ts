import { CrashedError, flow } from "squall";
import { LambdaTaskRunner, type LocalEnvironment, startLocalEnvironment } from "squall/aws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { double, killsTheThread } from "../fixtures/poison-tasks.js";

let local: LocalEnvironment;

beforeAll(async () => {
  local = await startLocalEnvironment({
    workers: 2,
    maxReceiveCount: 2,
    visibilitySeconds: 2,
    workerTimeoutSeconds: 2,
  });
});
afterAll(async () => {
  await local?.stop();
});

describe("a run that kills its worker, packed with others", () => {
  it("crashes alone: the runs sharing its message and its batch complete", { timeout: 60_000 }, async () => {
    const poisoned = flow(
      { taskRunner: new LambdaTaskRunner({ ...local.address, tasksPerMessage: 50 }) },
      async function poisoned() {
        const killer = killsTheThread.submit();
        const doubled = double.map([1, 2, 3, 4, 5, 6]);
        await killer.wait();
        return {
          killer: killer.state,
          error: killer.result({ raiseOnFailure: false }),
          doubled: await doubled.result(),
        };
      },
    );

    const { killer, error, doubled } = await poisoned();

    expect(doubled).toEqual([2, 4, 6, 8, 10, 12]);
    expect(killer.type).toBe("CRASHED");
    expect(await error).toBeInstanceOf(CrashedError);
    expect(((await error) as Error).message).toMatch(/delivered \d+ times without an outcome/);
  });
});
