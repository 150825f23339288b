// When a schedule fires next, as EventBridge Scheduler fires it: cron read in the schedule's time
// zone, and a rate counted from when the schedule began.
import { cronJob, parseExpression } from "./expression.js";

/** A schedule's expression and zone: all that its fire times depend on. */
export interface Timing {
  readonly expression: string;
  readonly timezone: string;
}

/**
 * The next `count` times `timing` fires after `after`. A rate fires every period from `since`
 * (when the schedule was created, or the local scheduler started); without `since` its times
 * are unknown and none are given. Across daylight saving time, as EventBridge Scheduler does:
 * a time the clocks skip (2:30 on a night they go from 2:00 to 3:00) does not fire, and a time
 * the clocks pass twice fires once, the first time.
 */
export function nextFireTimes(timing: Timing, after: Date, count: number, since?: number): Date[] {
  const parsed = parseExpression(timing.expression);
  if (parsed.kind === "rate") {
    if (since === undefined) return [];
    const periods = Math.max(Math.floor((after.getTime() - since) / parsed.periodMs) + 1, 1);
    return Array.from({ length: count }, (_, i) => new Date(since + (periods + i) * parsed.periodMs));
  }
  const job = cronJob(parsed.fields, timing.timezone);
  const wallClock = new Intl.DateTimeFormat("en-US", {
    timeZone: timing.timezone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
  });
  const times: Date[] = [];
  let cursor = after;
  const fired = new Set<string>();
  // croner moves a time in a gap to the gap's end, and gives a wall-clock time passed twice twice.
  for (let guard = 0; times.length < count && guard < count * 4 + 8; guard++) {
    const next = job.nextRun(cursor);
    if (!next) break;
    cursor = next;
    const wall = wallClock.format(next);
    if (!job.match(next) || fired.has(wall)) continue;
    fired.add(wall);
    times.push(next);
  }
  return times;
}
