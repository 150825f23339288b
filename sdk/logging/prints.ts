import { type ConsoleMethod, captureConsole } from "./console-capture.js";

let installed = false;

/**
 * Routes console output made inside runs with `logPrints` to their run logger.
 * Installed once, the first time such a run starts; other output is untouched.
 */
export function installPrintCapture(): void {
  if (installed) return;
  installed = true;
  const original = Object.fromEntries(
    (["log", "info", "debug", "warn", "error"] as const).map((method) => [
      method,
      console[method].bind(console),
    ]),
  ) as Record<ConsoleMethod, (...args: unknown[]) => void>;
  captureConsole((method, args) => original[method](...args));
}
