import pc from "picocolors";
import { countOf, type RunCounts } from "../records/record.js";
import type { StateName } from "../states.js";

export type Colors = ReturnType<typeof pc.createColors>;

/** Colours for what goes to `stream`: on when it is a terminal and NO_COLOR is not set (FORCE_COLOR forces). */
export function colorsFor(stream: NodeJS.WriteStream): Colors {
  const env = process.env;
  const enabled = !!env.FORCE_COLOR || (!env.NO_COLOR && stream.isTTY === true && env.TERM !== "dumb");
  return pc.createColors(enabled);
}

/** `12 ms`, `1.23 s`, `2 min 5 s`, `1 h 4 min`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

/** Local date and time, `2025-11-27 14:03:09`. */
export function formatTime(ms: number): string {
  const date = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** UTC time of day with milliseconds, as squall's log lines show it. */
export function formatClock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 23);
}

/** The first 8 characters of an id: enough to name a run to `squall show`. */
export function shortId(id: string): string {
  return id.slice(0, 8);
}

export function colorState(colors: Colors, state: StateName, text: string = state): string {
  switch (countOf(state)) {
    case "completed":
      return colors.green(text);
    case "failed":
    case "crashed":
      return colors.red(text);
    case "cancelled":
      return colors.yellow(text);
    case "running":
      return colors.cyan(text);
    default:
      return colors.dim(text);
  }
}

/** `3 pending, 2 running, 10 completed, 1 failed`, leaving out crashed and cancelled when none. */
export function describeCounts(counts: RunCounts, colors?: Colors): string {
  const parts: string[] = [];
  const paint = (key: keyof RunCounts, text: string) => {
    if (!colors || counts[key] === 0) return text;
    if (key === "completed") return colors.green(text);
    if (key === "failed" || key === "crashed") return colors.red(text);
    if (key === "running") return colors.cyan(text);
    if (key === "cancelled") return colors.yellow(text);
    return text;
  };
  for (const key of ["pending", "running", "completed", "failed", "crashed", "cancelled"] as const) {
    if ((key === "crashed" || key === "cancelled") && counts[key] === 0) continue;
    parts.push(paint(key, `${counts[key]} ${key}`));
  }
  return parts.join(", ");
}

export function totalOf(counts: RunCounts): number {
  return (
    counts.pending + counts.running + counts.completed + counts.failed + counts.crashed + counts.cancelled
  );
}

/** Rows of cells as columns padded to their widest cell (colour codes not counted). */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, visibleLength(cell));
    });
  }
  return rows
    .map((row) =>
      row
        .map((cell, i) =>
          i === row.length - 1 ? cell : cell + " ".repeat((widths[i] ?? 0) - visibleLength(cell)),
        )
        .join("  "),
    )
    .join("\n");
}

function visibleLength(text: string): number {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: strips the colour codes picocolors adds
  return text.replace(/\u001b\[[0-9;]*m/g, "").length;
}
