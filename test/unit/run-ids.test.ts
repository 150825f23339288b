import { flow, getRunContext, SequentialTaskRunner, task } from "squall";
import { describe, expect, it } from "vitest";
import { serialOf, taskRunIdPrefix } from "../../sdk/ids.js";
import { registeredFlow } from "../../sdk/registry.js";

const idOf = task(function idOf(_label: string) {
  return getRunContext().taskRun?.id as string;
});

const child = flow(async function childIds() {
  const run = getRunContext().flowRun;
  return { id: run.id, tasks: [await idOf("c1")] };
});

/** Task run ids in call order, a subflow's, and a second task after it. */
const idsInOrder = flow({ taskRunner: new SequentialTaskRunner() }, async function idsInOrder() {
  const first = await idOf.submit("a").result();
  const second = await idOf.submit("b").result();
  const sub = await child();
  const third = await idOf("c");
  return { flowRunId: getRunContext().flowRun.id, tasks: [first, second, third], sub };
});

describe("run ids follow the flow's call order", () => {
  it("gives task runs <prefix of the flow run>-<serial> and subflows ids derived from their parent's", async () => {
    const run = await idsInOrder();
    const prefix = taskRunIdPrefix(run.flowRunId);
    expect(prefix).toMatch(/^[0-9a-f]{12}$/);
    expect(run.tasks).toEqual([`${prefix}-1`, `${prefix}-2`, `${prefix}-3`]);
    expect(run.tasks.map(serialOf)).toEqual([1, 2, 3]);
    expect(run.sub.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(run.sub.tasks).toEqual([`${taskRunIdPrefix(run.sub.id)}-1`]);
  });

  it("gives the same ids again to a flow run started again with the same identity", async () => {
    const start = registeredFlow("idsInOrder");
    if (!start) throw new Error("idsInOrder is not registered");
    const identity = { id: "3f1c2a9e-0000-4000-8000-000000000001", name: "again", startTime: 1_000 };
    const once = start([], undefined, identity);
    const twice = start([], undefined, identity);
    const [a, b] = await Promise.all([once.final, twice.final]);
    expect(a.type).toBe("COMPLETED");
    expect(b.type).toBe("COMPLETED");
    const first = "result" in a ? (a.result as Awaited<ReturnType<typeof idsInOrder>>) : undefined;
    const second = "result" in b ? (b.result as Awaited<ReturnType<typeof idsInOrder>>) : undefined;
    expect(first?.flowRunId).toBe(identity.id);
    expect(second).toEqual(first);
    expect(once.name).toBe("again");
    expect(a.flowRun.startTime?.getTime()).toBe(1_000);
  });

  it("gives two flow runs different prefixes", async () => {
    const [one, two] = await Promise.all([idsInOrder(), idsInOrder()]);
    expect(one.tasks[0]).not.toBe(two.tasks[0]);
  });
});
