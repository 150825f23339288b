// What `squall schedules` prints: a table of the schedules with when each fires next, then each
// schedule's last runs.
import type { StateName } from "../states.js";
import { type Colors, colorState, formatDuration, formatTime, shortId, table } from "./format.js";

/** Type-only: the listing's shape is squall/aws's. */
type ScheduleListing = import("../aws/schedules/definition.js").ScheduleListing;

/** A run a schedule started, as listed. */
export interface LastRun {
  readonly id: string;
  /** The flow run's name (`witty-otter`); empty when its record does not say yet. */
  readonly name: string;
  readonly state: StateName;
  /** Milliseconds since the epoch. */
  readonly startedAt: number;
}

/** A schedule with when it fires next (unknown for a stack's rate) and its last runs, newest first. */
export interface ScheduleRow extends ScheduleListing {
  readonly next: number | undefined;
  readonly lastRuns: readonly LastRun[];
}

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
