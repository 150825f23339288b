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
  const wallOf = (ms: number) => wallClock.format(new Date(ms));
  // A wall-clock time the clocks passed 30 or 60 minutes earlier too is a repeat: the clocks went back.
  const repeated = (time: Date) => {
    const wall = wallOf(time.getTime());
    return wall === wallOf(time.getTime() - 3_600_000) || wall === wallOf(time.getTime() - 1_800_000);
  };
  const times: Date[] = [];
  let cursor = after;
  // croner moves a time in a gap to the gap's end, and gives the times of a repeated hour twice:
  // at most an hour of minutes to skip for each time found.
  for (let tries = 0; times.length < count && tries < (count + 1) * 64; tries++) {
    const next = job.nextRun(cursor);
    if (!next) break;
    cursor = next;
    if (job.match(next) && !repeated(next)) times.push(next);
  }
  return times;
}
