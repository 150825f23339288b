import { format } from "node:util";
import { scopeStorage } from "../context.js";
import type { LevelName } from "../logging/config.js";
import type { RunScope } from "../runs.js";

export type Stream = "stdout" | "stderr";

/**
 * Takes over console output in a worker: inside a run with logPrints it becomes run-logger
 * lines; any other output goes to `print`, with the run it came from (if any), for the worker
 * to carry back to the caller in order.
 */
export function captureConsole(
  print: (scope: RunScope | undefined, stream: Stream, text: string) => void,
): void {
  const methods = { log: "INFO", info: "INFO", debug: "DEBUG", warn: "WARNING", error: "ERROR" } as const;
  for (const method of Object.keys(methods) as (keyof typeof methods)[]) {
    const level: LevelName = methods[method];
    const stream: Stream = method === "warn" || method === "error" ? "stderr" : "stdout";
    console[method] = (...args: unknown[]) => {
      const scope = scopeStorage.getStore();
      const text = format(...args);
      if (scope?.logPrints) scope.logger.log(level, text);
      else print(scope, stream, text);
    };
  }
}
