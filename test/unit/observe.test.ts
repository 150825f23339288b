import { fileURLToPath, pathToFileURL } from "node:url";
import { flow, observeRuns, type RunEvent, task } from "squall";
import { describe, expect, it } from "vitest";
import { userStack } from "../../sdk/stack-frames.js";

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
    // The stack ends at the task's own code: how squall called it is left out.
    const stack = failed?.error?.stack ?? "";
    expect(stack).toMatch(/^TypeError: no\n {4}at failObserved \(.*observe\.test\.ts:\d+:\d+\)$/);
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

describe("userStack", () => {
  const own = fileURLToPath(new URL("../../sdk/engine/task-run.ts", import.meta.url));

  it("leaves out the frames at the bottom that are squall's or Node's", () => {
    const stack = [
      "Error: no",
      "    at load (/app/flows.ts:3:9)",
      "    at helper (/app/lib.ts:7:2)",
      `    at TaskRun.#invoke (${own}:10:1)`,
      `    at async Promise.all (index 0)`,
      "    at AsyncLocalStorage.run (node:async_hooks:346:14)",
      `    at async runAll (${pathToFileURL(own).href}:20:5)`,
    ].join("\n");
    expect(userStack(stack)).toBe(
      "Error: no\n    at load (/app/flows.ts:3:9)\n    at helper (/app/lib.ts:7:2)",
    );
  });

  it("keeps a stack whole when no frame is the user's, or squall's frames sit between the user's", () => {
    const ownOnly = `SquallError: timed out\n    at TaskRun.#onTimeout (${own}:1:1)`;
    expect(userStack(ownOnly)).toBe(ownOnly);
    const between = `Error: no\n    at inner (/app/a.ts:1:1)\n    at call (${own}:2:2)\n    at outer (/app/b.ts:3:3)`;
    expect(userStack(between)).toBe(between);
    expect(userStack("Error: no frames")).toBe("Error: no frames");
  });
});
