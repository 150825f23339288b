// When schedules fire: EventBridge's cron in a time zone (daylight saving time included), a
// Unix cron converted to EventBridge's, and a rate counted from the schedule's start.
import { describe, expect, it } from "vitest";
import { cronExpression, rateExpression } from "../../sdk/aws/schedules/expression.js";
import { nextFireTimes } from "../../sdk/aws/schedules/fire-times.js";

const iso = (dates: Date[]) => dates.map((date) => date.toISOString());
const next = (expression: string, timezone: string, after: string, count: number) =>
  iso(nextFireTimes({ expression, timezone }, new Date(after), count));

describe("cron fire times", () => {
  it("reads the hours in the schedule's time zone: 09:00 in Paris is 08:00 UTC in winter, weekdays only", () => {
    expect(next("cron(0 9 ? * MON-FRI *)", "Europe/Paris", "2026-12-04T12:00:00Z", 3)).toEqual([
      "2026-12-07T08:00:00.000Z",
      "2026-12-08T08:00:00.000Z",
      "2026-12-09T08:00:00.000Z",
    ]);
    expect(next("cron(0 9 ? * MON-FRI *)", "UTC", "2026-12-04T12:00:00Z", 1)).toEqual([
      "2026-12-07T09:00:00.000Z",
    ]);
  });

  it("moves with daylight saving time: 09:00 in Paris is 07:00 UTC in summer", () => {
    expect(next("cron(0 9 * * ? *)", "Europe/Paris", "2026-03-27T12:00:00Z", 3)).toEqual([
      "2026-03-28T08:00:00.000Z",
      "2026-03-29T07:00:00.000Z",
      "2026-03-30T07:00:00.000Z",
    ]);
  });

  it("skips a time the clocks skip: 02:30 in New York on the night they go from 2:00 to 3:00", () => {
    expect(next("cron(30 2 * * ? *)", "America/New_York", "2026-03-06T12:00:00Z", 3)).toEqual([
      "2026-03-07T07:30:00.000Z",
      "2026-03-09T06:30:00.000Z",
      "2026-03-10T06:30:00.000Z",
    ]);
  });

  it("fires once at a time the clocks pass twice: 01:30 in New York on the night they go back", () => {
    expect(next("cron(30 1 * * ? *)", "America/New_York", "2026-10-30T12:00:00Z", 3)).toEqual([
      "2026-10-31T05:30:00.000Z",
      "2026-11-01T05:30:00.000Z",
      "2026-11-02T06:30:00.000Z",
    ]);
    // Every half hour: 01:00 and 01:30 once each, then 02:00 EST.
    expect(next("cron(0/30 * * * ? *)", "America/New_York", "2026-11-01T04:40:00Z", 4)).toEqual([
      "2026-11-01T05:00:00.000Z",
      "2026-11-01T05:30:00.000Z",
      "2026-11-01T07:00:00.000Z",
      "2026-11-01T07:30:00.000Z",
    ]);
  });

  it("skips the repeated hour's times when asked from within it, however many they are", () => {
    // 01:02 EST, the second pass: 01:15 and 01:30 fired in the first.
    expect(next("cron(0/15 * * * ? *)", "America/New_York", "2026-11-01T06:02:00Z", 2)).toEqual([
      "2026-11-01T07:00:00.000Z",
      "2026-11-01T07:15:00.000Z",
    ]);
    // Every minute: the sixty of the second pass are skipped.
    expect(next("cron(* * * * ? *)", "America/New_York", "2026-11-01T05:59:30Z", 2)).toEqual([
      "2026-11-01T07:00:00.000Z",
      "2026-11-01T07:01:00.000Z",
    ]);
  });

  it("takes EventBridge's L, W, # and years", () => {
    expect(next("cron(0 12 L * ? *)", "UTC", "2027-01-15T00:00:00Z", 2)).toEqual([
      "2027-01-31T12:00:00.000Z",
      "2027-02-28T12:00:00.000Z",
    ]);
    expect(next("cron(0 12 ? * 2#1 2027)", "UTC", "2027-11-15T00:00:00Z", 2)).toEqual([
      "2027-12-06T12:00:00.000Z",
    ]);
  });
});

describe("rate fire times", () => {
  it("counts periods from the schedule's start, and knows none without it", () => {
    const since = Date.parse("2026-12-07T10:00:00Z");
    expect(
      iso(
        nextFireTimes(
          { expression: "rate(5 minutes)", timezone: "UTC" },
          new Date("2026-12-07T10:12:00Z"),
          2,
          since,
        ),
      ),
    ).toEqual(["2026-12-07T10:15:00.000Z", "2026-12-07T10:20:00.000Z"]);
    expect(nextFireTimes({ expression: "rate(5 minutes)", timezone: "UTC" }, new Date(), 2)).toEqual([]);
  });
});

describe("expressions", () => {
  it.each([
    ["0 9 * * 1-5", "cron(0 9 ? * 2,3,4,5,6 *)"],
    ["*/15 * * * *", "cron(*/15 * * * ? *)"],
    ["0 0 1 * *", "cron(0 0 1 * ? *)"],
    ["0 0 * * 0,7", "cron(0 0 ? * 1 *)"],
    ["0 0 * * SUN,sat", "cron(0 0 ? * 1,7 *)"],
    ["0 0 * * */2", "cron(0 0 ? * 1,3,5,7 *)"],
    ["cron(0 18 ? * MON-FRI *)", "cron(0 18 ? * MON-FRI *)"],
    ["0 18 ? * MON-FRI *", "cron(0 18 ? * MON-FRI *)"],
  ])("writes cron %s as %s", (cron, expression) => {
    expect(cronExpression(cron, "the cron")).toBe(expression);
  });

  it("writes a rate's unit as EventBridge wants it, and takes seconds only where allowed", () => {
    expect(rateExpression("1 minutes", "r")).toBe("rate(1 minute)");
    expect(rateExpression("rate(12 hour)", "r")).toBe("rate(12 hours)");
    expect(rateExpression("2 seconds", "r", true)).toBe("rate(2 seconds)");
    expect(() => rateExpression("2 seconds", "r")).toThrow(/finest rate is a minute/);
  });

  it("refuses EventBridge's days outside 1-7 and years outside 1970-2199", () => {
    expect(() => cronExpression("cron(0 9 ? * 8 *)", "the cron")).toThrow(
      "Expected the day-of-week field of the cron to number days 1-7 (SUN-SAT), as EventBridge does, got `8`",
    );
    expect(() => cronExpression("cron(0 9 * * ? 2300)", "the cron")).toThrow(
      "Expected the year field of the cron to be within 1970-2199, as EventBridge's are, got `2300`",
    );
  });
});
