// What `squall schedules` prints: a table of the schedules with when each fires next, then each
// schedule's last runs.
import { type Colors, colorState, formatDuration, formatTime, shortId, table } from "./format.js";

// The report's shape is squall/aws's, which reads it; this file only prints it.
type LastRun = import("../aws/schedules/report.js").LastRun;
type ScheduleRow = import("../aws/schedules/report.js").ScheduleRow;

export type { LastRun, ScheduleRow };

/** The lines `squall schedules` prints for `rows`, `now` being when they were read. */
export function formatSchedules(rows: readonly ScheduleRow[], now: number, colors: Colors): string {
  const header = ["NAME", "FLOW", "EXPRESSION", "TIMEZONE", "ENABLED", "NEXT"].map((h) => colors.dim(h));
  const lines = [
    table([
      header,
      ...rows.map((row) => [
        row.name,
        row.flow,
        row.expression,
        row.timezone,
        row.enabled ? "yes" : colors.yellow("no"),
        nextFire(row, now),
      ]),
    ]),
  ];
  for (const row of rows) {
    lines.push("");
    if (row.lastRuns.length === 0) {
      lines.push(`${row.name}: ${colors.dim("no runs found")}`);
      continue;
    }
    lines.push(`${row.name}: last runs`);
    const runs = table(
      row.lastRuns.map((run) => [
        `  ${shortId(run.id)}`,
        run.name || "-",
        colorState(colors, run.state),
        formatTime(run.startedAt),
      ]),
    );
    lines.push(runs);
  }
  return `${lines.join("\n")}\n`;
}

function nextFire(row: ScheduleRow, now: number): string {
  if (!row.enabled) return "- (disabled)";
  if (row.next === undefined) return "-";
  return `${formatTime(row.next)} (in ${formatDuration(Math.max(row.next - now, 0))})`;
}
