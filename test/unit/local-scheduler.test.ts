// The local environment's scheduler: fires each enabled schedule at its times, never a disabled
// one, and nothing once stopped.
import { describe, expect, it } from "vitest";
import { startLocalScheduler } from "../../sdk/aws/local/scheduler.js";
import { checkSchedules } from "../../sdk/aws/schedules/definition.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("the local scheduler", () => {
  it("fires at a rate, sends the schedule's input, never fires a disabled schedule, and stops", async () => {
    const schedules = checkSchedules(
      [
        { name: "often", flow: "stamping", rate: "1 second", params: ["tick", 1] },
        { name: "off", flow: "stamping", rate: "1 second", enabled: false },
      ],
      { allowSeconds: true },
    );
    const fired: { name: string; input: string; at: number }[] = [];
    const scheduler = startLocalScheduler(schedules, async (schedule) => {
      fired.push({ name: schedule.name, input: schedule.inputJson, at: Date.now() });
    });

    await sleep(2_400);
    scheduler.stop();
    const atStop = fired.length;
    await sleep(1_300);

    expect(atStop).toBe(2);
    expect(fired).toHaveLength(2);
    expect(fired.map((firing) => firing.name)).toEqual(["often", "often"]);
    expect(JSON.parse(fired[0]?.input ?? "")).toEqual({
      flow: "stamping",
      parameters: ["tick", 1],
      schedule: "often",
    });
    // At its times: one and two periods after the scheduler began, not before.
    for (const [i, firing] of fired.entries()) {
      expect(firing.at - scheduler.since).toBeGreaterThanOrEqual((i + 1) * 1_000);
      expect(firing.at - scheduler.since).toBeLessThan((i + 1) * 1_000 + 900);
    }
  });
});
