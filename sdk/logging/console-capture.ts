import { format } from "node:util";
import { scopeStorage } from "../context.js";
import type { RunScope } from "../runs.js";
import type { LevelName } from "./config.js";

export type ConsoleMethod = "log" | "info" | "debug" | "warn" | "error";

const LEVEL_OF: Record<ConsoleMethod, LevelName> = {
  log: "INFO",
  info: "INFO",
  debug: "DEBUG",
  warn: "WARNING",
  error: "ERROR",
};

/** Where a console method writes: warnings and errors to stderr, the rest to stdout. */
export function streamOf(method: ConsoleMethod): "stdout" | "stderr" {
  return method === "warn" || method === "error" ? "stderr" : "stdout";
}

/**
 * Takes over the console: inside a run with `logPrints`, output becomes run-logger lines at the
 * method's level; any other output goes to `otherwise`, with the run it came from, if any.
 */
export function captureConsole(
  otherwise: (method: ConsoleMethod, args: unknown[], scope: RunScope | undefined) => void,
): void {
  for (const method of Object.keys(LEVEL_OF) as ConsoleMethod[]) {
    console[method] = (...args: unknown[]) => {
      const scope = scopeStorage.getStore();
      if (scope?.logPrints) scope.logger.log(LEVEL_OF[method], format(...args));
      else otherwise(method, args, scope);
    };
  }
}
