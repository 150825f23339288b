import { flow, observeRuns, type RunEvent, task } from "squall";
import { describe, expect, it } from "vitest";

const double = task(function doubleObserved(x: number) {
  return x * 2;
});
const fail = task(function failObserved() {
  throw new TypeError("no");
});

describe("observeRuns", () => {
  it("tells every state of every flow run and task run, until stopped", async () => {
    const events: RunEvent[] = [];
    const stop = observeRuns((event) => events.push(event));
    const observedFlow = flow(async function observedFlow() {
      await fail.submit().wait();
      return double.submit(2).result();
    });
    const state = await observedFlow.run();
    stop();
    await observedFlow.run();

    const flowId = state.flowRun.id;
    const flowStates = events.filter((e) => e.kind === "flow").map((e) => e.state);
    expect(flowStates).toEqual(["Running", "Failed"]);
    const doubled = events.filter((e) => e.definition === "doubleObserved");
    expect(doubled.map((e) => e.state)).toEqual(
      ["Pending", "Running", "Completed"].filter((s) => doubled.some((e) => e.state === s)),
    );
    expect(doubled.at(-1)).toMatchObject({
      kind: "task",
      flowRunId: flowId,
      state: "Completed",
      attempts: 1,
    });
    const failed = events.filter((e) => e.definition === "failObserved").at(-1);
    expect(failed).toMatchObject({ state: "Failed", error: { name: "TypeError", message: "no" } });
    expect(events.every((e) => e.flowRunId === flowId || e.kind === "flow")).toBe(true);
    expect(events.filter((e) => e.kind === "flow")).toHaveLength(2);
  });
});

describe("observeRuns with bad input", () => {
  it("refuses a listener that is not a function, saying what it takes", () => {
    expect(() => observeRuns("log" as never)).toThrow(
      "Expected observeRuns() to get a function called with each run event, got `log`",
    );
  });
});
