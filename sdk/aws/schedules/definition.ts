// What a schedule is (one flow started on a cron or a rate, with its parameters), checked the
// same way for the stack (cdk/constructs/flow-schedules.ts) and the local environment
// (local/scheduler.ts), and what either starts the flow-runner with.
import { InvalidArgumentError } from "../../errors.js";
import { cronExpression, rateExpression } from "./expression.js";

/**
 * A flow started on a schedule: by EventBridge Scheduler on the stack, by the local environment's
 * scheduler locally. Give exactly one of `cron` and `rate`.
 *
 * @example
 * { name: "nightly-report", flow: "report", cron: "0 2 * * *", timezone: "Europe/Paris", params: ["eu"] }
 */
export interface FlowSchedule {
  /** The schedule's name: lowercase letters, digits and `-`, starting with a letter, up to 64; unique. */
  readonly name: string;
  /** The flow's name, as `flow()` named it; the flow-runner starts it. */
  readonly flow: string;
  /**
   * EventBridge's `cron(minutes hours day-of-month month day-of-week year)` (or its six fields
   * bare), or a Unix cron of five fields, converted: `0 9 * * 1-5` is `cron(0 9 ? * 2-6 *)`.
   */
  readonly cron?: string;
  /** `rate(5 minutes)` or `5 minutes`: minutes, hours or days (seconds on the local environment only). */
  readonly rate?: string;
  /**
   * The flow's parameters, as the flow-runner takes them: an array is its arguments, anything else
   * its one argument. JSON only; with the rest of the input, at most 256 KB. @default no arguments
   */
  readonly params?: unknown;
  /** The IANA time zone `cron` is read in (DST included); a rate ignores it. @default "UTC" */
  readonly timezone?: string;
  /** A disabled schedule is deployed but never fires. @default true */
  readonly enabled?: boolean;
  /**
   * Minutes within which EventBridge Scheduler may start each firing, spreading load (1-1440).
   * Locally, firings are on time. @default none: on time
   */
  readonly flexibleWindowMinutes?: number;
}

/** What the flow-runner is invoked with when a schedule fires. */
export interface ScheduleInput {
  readonly flow: string;
  readonly parameters: unknown;
  /** The schedule's name: the flow-runner records it with the run. */
  readonly schedule: string;
}

/** A schedule as the stack's `Schedules` output lists it, and `squall schedules` reads it. */
export interface ScheduleListing {
  readonly name: string;
  readonly flow: string;
  /** `cron(...)` or `rate(...)`, as EventBridge reads it. */
  readonly expression: string;
  readonly timezone: string;
  readonly enabled: boolean;
}

/** A schedule checked: its listing, the input it sends, and its window. */
export interface CheckedSchedule extends ScheduleListing {
  readonly input: ScheduleInput;
  /** JSON of `input`, as it is sent. */
  readonly inputJson: string;
  readonly flexibleWindowMinutes: number | undefined;
}

/** The stack output listing the schedules, as JSON: `[{ name, flow, expression, timezone, enabled }]`. */
export const SCHEDULES_OUTPUT = "Schedules";
export const SCHEDULE_NAME = /^[a-z][a-z0-9-]{0,63}$/;
/** The most EventBridge Scheduler takes as a target's input. */
export const MAX_INPUT_BYTES = 256 * 1024;

/**
 * The schedules, checked, each with its expression written as EventBridge reads it; an
 * `InvalidArgumentError` naming the schedule and the field otherwise. `allowSeconds` lets
 * `rate` be in seconds (the local environment's).
 */
export function checkSchedules(
  schedules: readonly FlowSchedule[] | undefined,
  { allowSeconds = false } = {},
): CheckedSchedule[] {
  if (schedules === undefined) return [];
  if (!Array.isArray(schedules)) {
    throw new InvalidArgumentError(
      `Expected \`schedules\` to be an array of { name, flow, cron | rate, ... }, got \`${String(schedules)}\``,
    );
  }
  const names = new Set<string>();
  return schedules.map((schedule, i) => {
    const at = `\`schedules[${i}]\``;
    if (typeof schedule !== "object" || schedule === null) {
      throw new InvalidArgumentError(
        `Expected ${at} to be { name, flow, cron | rate, ... }, got \`${String(schedule)}\``,
      );
    }
    const {
      name,
      flow,
      cron,
      rate,
      params,
      timezone = "UTC",
      enabled = true,
      flexibleWindowMinutes,
    } = schedule;
    if (typeof name !== "string" || !SCHEDULE_NAME.test(name)) {
      throw new InvalidArgumentError(
        `Expected ${at}.name to be lowercase letters, digits and \`-\`, starting with a letter, up to 64, got \`${String(name)}\``,
      );
    }
    const where = `schedule '${name}'`;
    if (names.has(name))
      throw new InvalidArgumentError(`Expected schedule names to be unique, got '${name}' twice`);
    names.add(name);
    if (typeof flow !== "string" || flow === "") {
      throw new InvalidArgumentError(
        `Expected the \`flow\` of ${where} to name a flow, got \`${String(flow)}\``,
      );
    }
    if ((cron === undefined) === (rate === undefined)) {
      throw new InvalidArgumentError(
        `Expected ${where} to have exactly one of \`cron\` and \`rate\`, got ${cron === undefined ? "neither" : "both"}`,
      );
    }
    if (typeof (cron ?? rate) !== "string") {
      throw new InvalidArgumentError(
        `Expected the \`${cron !== undefined ? "cron" : "rate"}\` of ${where} to be a string, got \`${String(cron ?? rate)}\``,
      );
    }
    const expression =
      cron !== undefined
        ? cronExpression(cron, `the \`cron\` of ${where}`)
        : rateExpression(rate as string, `the \`rate\` of ${where}`, allowSeconds);
    checkTimezone(timezone, where);
    if (typeof enabled !== "boolean") {
      throw new InvalidArgumentError(
        `Expected the \`enabled\` of ${where} to be true or false, got \`${String(enabled)}\``,
      );
    }
    if (
      flexibleWindowMinutes !== undefined &&
      (!Number.isInteger(flexibleWindowMinutes) || flexibleWindowMinutes < 1 || flexibleWindowMinutes > 1440)
    ) {
      throw new InvalidArgumentError(
        `Expected the \`flexibleWindowMinutes\` of ${where} to be an integer from 1 to 1440, got \`${String(flexibleWindowMinutes)}\``,
      );
    }
    checkJson(params, `the \`params\` of ${where}`);
    const input: ScheduleInput = { flow, parameters: params ?? [], schedule: name };
    const inputJson = JSON.stringify(input);
    const bytes = Buffer.byteLength(inputJson);
    if (bytes > MAX_INPUT_BYTES) {
      throw new InvalidArgumentError(
        `Expected the input of ${where} to be at most ${MAX_INPUT_BYTES} bytes (EventBridge Scheduler's limit), got ${bytes}: store large parameters elsewhere (the bucket, say) and pass their key.`,
      );
    }
    return { name, flow, expression, timezone, enabled, input, inputJson, flexibleWindowMinutes };
  });
}

/** The listing of a checked schedule, without its input. */
export function listingOf(schedule: CheckedSchedule): ScheduleListing {
  const { name, flow, expression, timezone, enabled } = schedule;
  return { name, flow, expression, timezone, enabled };
}

/** An IANA zone name (`Europe/Paris`, `UTC`); offsets such as `+01:00`, which Intl also takes, are not. */
function checkTimezone(timezone: unknown, where: string): void {
  let known = typeof timezone === "string" && /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(timezone);
  if (known) {
    try {
      new Intl.DateTimeFormat("en-US", { timeZone: timezone as string });
    } catch {
      known = false;
    }
  }
  if (!known) {
    throw new InvalidArgumentError(
      `Expected the \`timezone\` of ${where} to be an IANA time zone such as "Europe/Paris" or "UTC", got \`${String(timezone)}\``,
    );
  }
}

/** Refuses what JSON would drop or change: functions, undefined, NaN, Dates, Maps, class instances. */
function checkJson(value: unknown, where: string, path = ""): void {
  const refuse = (what: string) => {
    throw new InvalidArgumentError(
      `Expected ${where} to be JSON (null, booleans, finite numbers, strings, arrays and plain objects), got ${what}${path ? ` at \`${path}\`` : ""}`,
    );
  };
  if (value === null || typeof value === "boolean" || typeof value === "string") return;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) refuse(String(value));
    return;
  }
  if (value === undefined) {
    if (path !== "") refuse("undefined");
    return;
  }
  if (typeof value !== "object") refuse(`a ${typeof value}`);
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) checkJson(item, where, `${path}[${i}]`);
    return;
  }
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null)
    refuse(`a ${(value as object).constructor?.name ?? "non-plain object"}`);
  for (const [key, item] of Object.entries(value as object)) checkJson(item, where, `${path}.${key}`);
}
