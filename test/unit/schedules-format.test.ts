// How `squall schedules` prints schedules: a table with when each fires next, then each
// schedule's last runs, newest first.
import pc from "picocolors";
import { describe, expect, it } from "vitest";
import { formatDuration, formatTime } from "../../sdk/cli/format.js";
import { formatSchedules, type ScheduleRow } from "../../sdk/cli/schedules-format.js";

const plain = pc.createColors(false);
const NOW = Date.parse("2026-12-07T10:00:00Z");

const ROWS: ScheduleRow[] = [
  {
    name: "nightly-report",
    flow: "report",
    expression: "cron(0 2 * * ? *)",
    timezone: "Europe/Paris",
    enabled: true,
    next: Date.parse("2026-12-08T01:00:00Z"),
    lastRuns: [
      {
        id: "6f1c2d3e-0000-4000-8000-000000000001",
        name: "witty-otter",
        state: "Completed",
        startedAt: Date.parse("2026-12-07T01:00:02Z"),
      },
      {
        id: "a1b2c3d4-0000-4000-8000-000000000002",
        name: "",
        state: "Running",
        startedAt: Date.parse("2026-12-06T01:00:01Z"),
      },
    ],
  },
  {
    name: "every-five",
    flow: "greetings",
    expression: "rate(5 minutes)",
    timezone: "UTC",
    enabled: true,
    next: undefined,
    lastRuns: [],
  },
  {
    name: "paused",
    flow: "report",
    expression: "rate(1 day)",
    timezone: "UTC",
    enabled: false,
    next: undefined,
    lastRuns: [],
  },
];

describe("squall schedules' listing", () => {
  it("lists each schedule with its next fire time, then its last runs", () => {
    const next = formatTime(Date.parse("2026-12-08T01:00:00Z"));
    const inTime = formatDuration(15 * 3_600_000);
    const first = formatTime(Date.parse("2026-12-07T01:00:02Z"));
    const second = formatTime(Date.parse("2026-12-06T01:00:01Z"));
    const nextCell = `${next} (in ${inTime})`;
    const pad = (text: string, width: number) => text.padEnd(width);

    expect(formatSchedules(ROWS, NOW, plain)).toBe(
      [
        `${pad("NAME", 14)}  ${pad("FLOW", 9)}  ${pad("EXPRESSION", 17)}  ${pad("TIMEZONE", 12)}  ENABLED  NEXT`,
        `nightly-report  report     cron(0 2 * * ? *)  Europe/Paris  yes      ${nextCell}`,
        `every-five      greetings  rate(5 minutes)    UTC           yes      -`,
        `paused          report     rate(1 day)        UTC           no       - (disabled)`,
        "",
        "nightly-report: last runs",
        `  6f1c2d3e  witty-otter  Completed  ${first}`,
        `  a1b2c3d4  -            Running    ${second}`,
        "",
        "every-five: no runs found",
        "",
        "paused: no runs found",
        "",
      ].join("\n"),
    );
    expect(inTime).toBe("15 h 0 min");
  });

  it("shows a next fire time the clock has just passed as in 0 ms", () => {
    const row = { ...ROWS[1], next: NOW - 500 } as ScheduleRow;
    expect(formatSchedules([row], NOW, plain).split("\n")[1]).toBe(
      `every-five  greetings  rate(5 minutes)  UTC       yes      ${formatTime(NOW - 500)} (in 0 ms)`,
    );
  });
});
