import { format } from "node:util";
import { emit, isEnabled, type LevelName } from "./config.js";

/** Who a log line is about: the flow run, and the task run when there is one. */
export interface RunAttribution {
  readonly flowRunId?: string;
  readonly flowRunName?: string;
  readonly taskRunId?: string;
  readonly taskRunName?: string;
}

/** A logger whose every line names the run it came from. */
export class RunLogger {
  readonly #who: RunAttribution;

  constructor(who: RunAttribution) {
    this.#who = who;
  }

  debug(message: string, ...extra: unknown[]): void {
    this.log("DEBUG", message, extra);
  }

  info(message: string, ...extra: unknown[]): void {
    this.log("INFO", message, extra);
  }

  warn(message: string, ...extra: unknown[]): void {
    this.log("WARNING", message, extra);
  }

  error(message: string, ...extra: unknown[]): void {
    this.log("ERROR", message, extra);
  }

  critical(message: string, ...extra: unknown[]): void {
    this.log("CRITICAL", message, extra);
  }

  /** Checks the level before formatting anything. */
  log(level: LevelName, message: string, extra: readonly unknown[] = []): void {
    if (!isEnabled(level)) return;
    const text = extra.length === 0 ? message : format(message, ...extra);
    emit({ time: Date.now(), level, message: text, ...this.#who });
  }
}
