import { format } from "node:util";
import { currentScope } from "../context.js";
import type { LevelName } from "./config.js";

const LEVEL_OF = { log: "INFO", info: "INFO", debug: "DEBUG", warn: "WARNING", error: "ERROR" } as const;
let installed = false;

/**
 * Routes console output made inside runs with `logPrints` to their run logger.
 * Installed once, the first time such a run starts; other output is untouched.
 */
export function installPrintCapture(): void {
  if (installed) return;
  installed = true;
  for (const method of Object.keys(LEVEL_OF) as (keyof typeof LEVEL_OF)[]) {
    const original = console[method].bind(console);
    const level: LevelName = LEVEL_OF[method];
    console[method] = (...args: unknown[]) => {
      const scope = currentScope();
      if (scope?.logPrints) scope.logger.log(level, format(...args));
      else original(...args);
    };
  }
}
