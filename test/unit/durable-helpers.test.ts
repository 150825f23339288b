import { flow, flowRandom, flowRunStartTime, InvalidArgumentError, MissingContextError, sleep } from "squall";
import { describe, expect, it } from "vitest";
import { registeredFlow } from "../../sdk/registry.js";

const draws = flow(async function draws(n: number) {
  const numbers = Array.from({ length: n }, () => flowRandom());
  const began = Date.now();
  await sleep(50);
  return { numbers, start: flowRunStartTime().getTime(), slept: Date.now() - began };
});

describe("what a flow uses in place of the clock, Math.random() and timers", () => {
  it("draws the same numbers, in [0, 1), and gives the same start time, each time a run with the same identity runs", async () => {
    const start = registeredFlow("draws");
    if (!start) throw new Error("draws is not registered");
    const identity = { id: "0b7e3a52-5f0c-4a8e-9d0e-2f4b9c1d7a10", startTime: 1_700_000_000_000 };
    const [one, two] = await Promise.all([
      start([100], undefined, identity).final,
      start([100], undefined, identity).final,
    ]);
    const a = "result" in one ? (one.result as Awaited<ReturnType<typeof draws>>) : undefined;
    const b = "result" in two ? (two.result as Awaited<ReturnType<typeof draws>>) : undefined;
    expect(a?.numbers).toEqual(b?.numbers);
    expect(new Set(a?.numbers).size).toBe(100);
    for (const x of a?.numbers ?? []) expect(x >= 0 && x < 1).toBe(true);
    expect(a?.start).toBe(1_700_000_000_000);
    expect(a?.slept).toBeGreaterThanOrEqual(45);
    const other = await draws(100);
    expect(other.numbers).not.toEqual(a?.numbers);
  });

  it("refuses a sleep of no number of milliseconds, and the helpers outside a flow run", async () => {
    await expect(sleep(-1)).rejects.toThrow(InvalidArgumentError);
    await expect(sleep(Number.NaN)).rejects.toThrow(
      "Expected sleep() to get a number of milliseconds from 0 up, got `NaN`",
    );
    expect(() => flowRandom()).toThrow(MissingContextError);
    expect(() => flowRunStartTime()).toThrow(
      "flowRunStartTime() was called outside a flow run. Call it from inside a flow function.",
    );
  });

  it("ends a sleep when its flow run is cancelled", async () => {
    const controller = new AbortController();
    const sleepy = flow({ signal: controller.signal }, async function sleepyForever() {
      await sleep(60_000);
    });
    const began = Date.now();
    const state = sleepy.run();
    setTimeout(() => controller.abort(new Error("stop")), 50);
    expect((await state).name).toBe("Cancelled");
    expect(Date.now() - began).toBeLessThan(5_000);
  });
});
