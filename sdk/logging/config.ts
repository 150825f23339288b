import { InvalidArgumentError } from "../errors.js";

export const LEVELS = { DEBUG: 10, INFO: 20, WARNING: 30, ERROR: 40, CRITICAL: 50 } as const;
export type LevelName = keyof typeof LEVELS;
export type LogFormat = "text" | "json";

/** One log line, as it is formatted and, later, carried across processes. */
export interface LogRecord {
  readonly time: number;
  readonly level: LevelName;
  readonly message: string;
  readonly flowRunId?: string;
  readonly flowRunName?: string;
  readonly taskRunId?: string;
  readonly taskRunName?: string;
}

export interface LoggingOptions {
  /** Lowest level written. @default `SQUALL_LOGGING_LEVEL`, else `"INFO"` */
  readonly level?: LevelName;
  /** `"text"` for readable lines, `"json"` for one JSON object per line. @default `SQUALL_LOGGING_FORMAT`, else `"text"` */
  readonly format?: LogFormat;
  /** Where formatted lines go. @default writes to stderr */
  readonly write?: (line: string) => void;
}

interface Config {
  threshold: number;
  format: LogFormat;
  write: (line: string) => void;
}

const writeStderr = (line: string): void => {
  process.stderr.write(line);
};

function parseLevel(value: string, source: string): LevelName {
  const upper = value.toUpperCase() === "WARN" ? "WARNING" : value.toUpperCase();
  if (upper in LEVELS) return upper as LevelName;
  throw new InvalidArgumentError(
    `Expected ${source} to be one of ${Object.keys(LEVELS).join(", ")}, got \`${value}\``,
  );
}

function parseFormat(value: string, source: string): LogFormat {
  if (value === "text" || value === "json") return value;
  throw new InvalidArgumentError(`Expected ${source} to be \`text\` or \`json\`, got \`${value}\``);
}

function fromEnvironment(): Config {
  const level = process.env.SQUALL_LOGGING_LEVEL;
  const format = process.env.SQUALL_LOGGING_FORMAT;
  return {
    threshold: LEVELS[level ? parseLevel(level, "SQUALL_LOGGING_LEVEL") : "INFO"],
    format: format ? parseFormat(format, "SQUALL_LOGGING_FORMAT") : "text",
    write: writeStderr,
  };
}

let config: Config = fromEnvironment();
let recordSink: ((record: LogRecord) => void) | undefined;

/** Sends records somewhere other than this process's output (a worker sends them to its caller). */
export function setRecordSink(sink: ((record: LogRecord) => void) | undefined): void {
  recordSink = sink;
}

/** The lowest level written, as a number, to hand on to worker threads. */
export function threshold(): number {
  return config.threshold;
}

export function setThreshold(value: number): void {
  config = { ...config, threshold: value };
}

/**
 * Sets the level, format or destination of squall's log lines for this process.
 *
 * @example
 * configureLogging({ level: "DEBUG", format: "json" });
 */
export function configureLogging(options: LoggingOptions): void {
  config = {
    threshold: options.level === undefined ? config.threshold : LEVELS[parseLevel(options.level, "`level`")],
    format: options.format === undefined ? config.format : parseFormat(options.format, "`format`"),
    write: options.write ?? config.write,
  };
}

/** Restores the settings read from the environment. */
export function resetLogging(): void {
  config = fromEnvironment();
}

export function isEnabled(level: LevelName): boolean {
  return LEVELS[level] >= config.threshold;
}

export function emit(record: LogRecord): void {
  if (recordSink) {
    recordSink(record);
    return;
  }
  writeRecord(record);
}

/** Writes a record where this process's lines go, in its format: what `emit` does with no sink set. */
export function writeRecord(record: LogRecord): void {
  config.write(config.format === "json" ? `${JSON.stringify(record)}\n` : formatText(record));
}

function formatText(record: LogRecord): string {
  const time = new Date(record.time).toISOString().slice(11, 23);
  const who = record.taskRunName
    ? `Task run '${record.taskRunName}' - `
    : record.flowRunName
      ? `Flow run '${record.flowRunName}' - `
      : "";
  return `${time} | ${record.level.padEnd(8)} | ${who}${record.message}\n`;
}
