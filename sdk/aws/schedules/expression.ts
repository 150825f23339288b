// Schedule expressions as EventBridge Scheduler reads them: `cron(...)` in its six fields and
// `rate(...)`, checked and written in the one form the stack deploys and the local environment,
// the CLI and the tests compute fire times from.
import { Cron } from "croner";
import { InvalidArgumentError } from "../../errors.js";

/** A schedule's expression, parsed: cron's six fields, or a rate's period. */
export type ParsedExpression =
  | { readonly kind: "cron"; readonly fields: readonly string[] }
  | { readonly kind: "rate"; readonly periodMs: number };

const RATE_UNITS = { second: 1_000, minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;
type RateUnit = keyof typeof RATE_UNITS;

/** What Unix cron's day-of-week names and numbers mean: Sunday is 0 (and 7). */
const UNIX_DAYS: Record<string, number> = { SUN: 0, MON: 1, TUE: 2, WED: 3, THU: 4, FRI: 5, SAT: 6 };

/**
 * `cron` as EventBridge's `cron(minutes hours day-of-month month day-of-week year)`. It takes that
 * form, its six fields bare, or a Unix cron's five (`minute hour day-of-month month day-of-week`),
 * which become EventBridge's: the year `*`, `?` in whichever day field is `*`, and days of the
 * week numbered from Sunday = 1. A Unix cron that restricts both day fields (one or the other day
 * matches) has no EventBridge form and is refused.
 */
export function cronExpression(cron: string, where: string): string {
  const bare = /^cron\((.*)\)$/s.exec(cron.trim())?.[1] ?? cron;
  const fields = bare.trim().split(/\s+/);
  if (fields.length === 5) return checkCron(fromUnixCron(fields, where), where);
  if (fields.length === 6) return checkCron(fields, where);
  throw new InvalidArgumentError(
    `Expected ${where} to be EventBridge's cron(minutes hours day-of-month month day-of-week year) or a Unix cron of five fields, got \`${cron}\` (${fields.length} fields)`,
  );
}

/**
 * `rate` as EventBridge's `rate(value unit)`: `rate(5 minutes)` or `5 minutes`, in minutes, hours
 * or days (`1 hour`, not `1 hours`: the unit is written as EventBridge wants it). Seconds only
 * where `allowSeconds` says so: the local environment's schedules, for tests; Scheduler's finest
 * rate is a minute.
 */
export function rateExpression(rate: string, where: string, allowSeconds = false): string {
  const bare = /^rate\((.*)\)$/s.exec(rate.trim())?.[1] ?? rate;
  const match = /^\s*(\d+)\s+(second|minute|hour|day)s?\s*$/i.exec(bare);
  const value = Number(match?.[1]);
  const unit = match?.[2]?.toLowerCase() as RateUnit | undefined;
  if (!match || !unit || !Number.isSafeInteger(value) || value < 1 || (unit === "second" && !allowSeconds)) {
    throw new InvalidArgumentError(
      `Expected ${where} to be rate(<n> minutes|hours|days) with n a whole number >= 1${allowSeconds ? " (or seconds, on the local environment)" : ""}, got \`${rate}\`${unit === "second" ? ": EventBridge Scheduler's finest rate is a minute (seconds run on the local environment only)" : ""}`,
    );
  }
  return `rate(${value} ${unit}${value === 1 ? "" : "s"})`;
}

/** An expression `cronExpression` or `rateExpression` wrote, parsed. */
export function parseExpression(expression: string): ParsedExpression {
  const rate = /^rate\((\d+) (second|minute|hour|day)s?\)$/.exec(expression);
  if (rate) return { kind: "rate", periodMs: Number(rate[1]) * RATE_UNITS[rate[2] as RateUnit] };
  const cron = /^cron\((.*)\)$/.exec(expression);
  if (cron?.[1]) return { kind: "cron", fields: cron[1].split(" ") };
  throw new InvalidArgumentError(`Expected a cron(...) or rate(...) expression, got \`${expression}\``);
}

/**
 * A croner job for EventBridge cron fields (not started): seconds at 0, the year as the seventh
 * field, days of the week from Sunday = 1 as Quartz numbers them, `?` as `*`, and `0/15` meaning
 * from 0 every 15, as EventBridge reads them.
 */
export function cronJob(fields: readonly string[], timezone: string): Cron {
  return new Cron(`0 ${fields.join(" ")}`, {
    timezone,
    mode: "7-part",
    alternativeWeekdays: true,
    sloppyRanges: true,
  });
}

function checkCron(fields: string[], where: string): string {
  const [, , dayOfMonth, , dayOfWeek, year] = fields as [string, string, string, string, string, string];
  if ((dayOfMonth === "?") === (dayOfWeek === "?")) {
    throw new InvalidArgumentError(
      `Expected ${where} to have \`?\` in exactly one of its day-of-month and day-of-week fields, as EventBridge requires, got \`cron(${fields.join(" ")})\``,
    );
  }
  try {
    cronJob(fields, "UTC");
  } catch (error) {
    throw new InvalidArgumentError(
      `Expected ${where} to be a valid EventBridge cron expression, got \`cron(${fields.join(" ")})\`: ${(error as Error).message.replace(/^CronPattern: /, "")}`,
    );
  }
  // EventBridge numbers days of the week 1-7 and its years 1970-2199; croner takes more.
  const days = dayOfWeek.replace(/[#/]\d+/g, "").match(/\d+/g) ?? [];
  if (days.some((day) => Number(day) < 1 || Number(day) > 7)) {
    throw new InvalidArgumentError(
      `Expected the day-of-week field of ${where} to number days 1-7 (SUN-SAT), as EventBridge does, got \`${dayOfWeek}\``,
    );
  }
  for (const number of year.match(/\d+/g) ?? []) {
    if (Number(number) < 1970 || Number(number) > 2199) {
      throw new InvalidArgumentError(
        `Expected the year field of ${where} to be within 1970-2199, as EventBridge's are, got \`${year}\``,
      );
    }
  }
  return `cron(${fields.join(" ")})`;
}

function fromUnixCron(fields: string[], where: string): string[] {
  const [minute, hour, dayOfMonth, month, dayOfWeek] = fields as [string, string, string, string, string];
  const anyDay = (field: string) => field === "*" || field === "?";
  if (!anyDay(dayOfMonth) && !anyDay(dayOfWeek)) {
    throw new InvalidArgumentError(
      `Expected ${where} to restrict one of its day fields, not both: Unix cron runs on either day, which EventBridge cannot say; got \`${fields.join(" ")}\`. Give two schedules, or EventBridge's six fields.`,
    );
  }
  if (anyDay(dayOfWeek)) return [minute, hour, anyDay(dayOfMonth) ? "*" : dayOfMonth, month, "?", "*"];
  return [minute, hour, "?", month, eventBridgeDays(dayOfWeek, where), "*"];
}

/** A Unix day-of-week field as EventBridge's: the days it names, numbered from Sunday = 1. */
function eventBridgeDays(field: string, where: string): string {
  const days = new Set<number>();
  const day = (text: string) => {
    const value = UNIX_DAYS[text.toUpperCase()] ?? (/^\d$/.test(text) ? Number(text) : Number.NaN);
    if (!(value >= 0 && value <= 7)) {
      throw new InvalidArgumentError(
        `Expected the day-of-week field of ${where} to name days 0-7 or SUN-SAT, got \`${field}\``,
      );
    }
    return value;
  };
  for (const part of field.split(",")) {
    const match = /^(\*|[^-/]+)(?:-([^/]+))?(?:\/(\d+))?$/.exec(part);
    if (!match?.[1])
      throw new InvalidArgumentError(`Expected a Unix day-of-week field in ${where}, got \`${field}\``);
    const from = match[1] === "*" ? 0 : day(match[1]);
    const to = match[1] === "*" ? 6 : match[2] !== undefined ? day(match[2]) : match[3] ? 6 : from;
    const step = Number(match[3] ?? 1);
    if (to < from || step < 1) {
      throw new InvalidArgumentError(`Expected a Unix day-of-week field in ${where}, got \`${field}\``);
    }
    for (let value = from; value <= to; value += step) days.add(value % 7);
  }
  return [...days]
    .map((value) => value + 1)
    .sort((a, b) => a - b)
    .join(",");
}
