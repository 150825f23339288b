import { type Colors, formatDuration, table } from "./format.js";
import { describeLiveCounts, formatRate, type Tally, type TaskNameTally } from "./tally.js";

/** Task names above which a run is large enough for a bar each. */
export const BARS_ABOVE_NAMES = 3;
/** Task runs above which a run is large enough for a bar per task name. */
export const BARS_ABOVE_RUNS = 50;
/** The width of a bar, in characters. */
const BAR_WIDTH = 24;

/** Whether the run is large enough to show a progress bar per task name: more than a few names, or many runs. */
export function showsBars(tally: Tally): boolean {
  return tally.names.length > BARS_ABOVE_NAMES || tally.total > BARS_ABOVE_RUNS;
}

/**
 * A bar per task name, as Dask's `progress` draws them: its final runs of all its runs so far,
 * and those that failed; at most `rows` lines, the last saying how many names are left out.
 *
 *     sayHello    ████████████░░░░░░░░░░░░  100/200
 *     sayGoodbye  ██░░░░░░░░░░░░░░░░░░░░░░   17/200  2 failed
 */
export function barLines(tally: Tally, rows: number, colors?: Colors): string[] {
  const names = tally.names;
  const shown = names.length > rows ? names.slice(0, Math.max(rows - 1, 0)) : names;
  const digits = String(Math.max(...names.map((name) => name.total), 0)).length;
  const lines = table(
    shown.map((name) => {
      const filled = name.total > 0 ? Math.floor((name.done / name.total) * BAR_WIDTH) : 0;
      const full = "█".repeat(filled);
      const empty = "░".repeat(BAR_WIDTH - filled);
      const bar = colors ? `${colors.green(full)}${colors.dim(empty)}` : `${full}${empty}`;
      const failed = failedOf(name);
      const note = failed > 0 ? `  ${paintFailed(`${failed} failed`, colors)}` : "";
      return [`  ${name.name}`, `${bar}  ${`${name.done}/${name.total}`.padStart(2 * digits + 1)}${note}`];
    }),
  ).split("\n");
  if (shown.length < names.length) lines.push(`  … ${names.length - shown.length} more task names`);
  return shown.length === 0 && names.length === 0 ? [] : lines;
}

/**
 * For plain output: the bars' equivalent on one line, the first `max` names,
 * `by task: sayHello 100/200, sayGoodbye 17/200 (2 failed), … 3 more`.
 */
export function barsLine(tally: Tally, max = 8): string {
  const names = tally.names;
  const parts = names.slice(0, max).map((name) => {
    const failed = failedOf(name);
    return `${name.name} ${name.done}/${name.total}${failed > 0 ? ` (${failed} failed)` : ""}`;
  });
  if (names.length > max) parts.push(`… ${names.length - max} more`);
  return `by task: ${parts.join(", ")}`;
}

/**
 * The final summary's lines per task name: its counts, the time from its first run's first
 * state (its submission, mostly) to its last run's end, and its throughput (left out when `withRate` is false).
 *
 *     sayHello    200 completed, 0 failed · 2.10 s · 95.2 task runs/s
 */
export function summaryLines(tally: Tally, now: number, colors?: Colors, withRate = true): string[] {
  return table(
    tally.names.map((name) => {
      const elapsed = Math.max((name.lastEndAt ?? now) - name.firstAt, 0);
      const rate = elapsed > 0 ? name.done / (elapsed / 1000) : 0;
      const counted = `${describeLiveCounts(name.counts, "ended", colors)} · ${formatDuration(elapsed)}`;
      return [name.name, withRate ? `${counted} · ${formatRate(rate)} task runs/s` : counted];
    }),
  ).split("\n");
}

function failedOf(name: TaskNameTally): number {
  return name.counts.failed + name.counts.crashed;
}

function paintFailed(text: string, colors: Colors | undefined): string {
  return colors ? colors.red(text) : text;
}
