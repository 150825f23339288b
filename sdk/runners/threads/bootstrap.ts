import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

let typeScriptTasks = false;

/**
 * Has threads started from now on register tsx even though the SDK runs from JavaScript: the
 * CLI, built, running a TypeScript flows file whose tasks threads must import.
 */
export function registerTsxInThreads(): void {
  typeScriptTasks = true;
}

/**
 * When the SDK runs from TypeScript source, threads register tsx themselves: a loader the
 * main thread was started with does not reach worker threads. The URL of tsx's registration
 * API when `entry` is TypeScript (or `registerTsxInThreads()` was called), else `undefined`.
 */
export function tsxApiFor(entry: string): string | undefined {
  if (!entry.endsWith(".ts") && !typeScriptTasks) return undefined;
  try {
    // require.resolve finds the CommonJS build; the ESM one sits beside it.
    const cjs = createRequire(import.meta.url).resolve("tsx/esm/api");
    return pathToFileURL(cjs.replace(/\.cjs$/, ".mjs")).href;
  } catch {
    return undefined;
  }
}

/**
 * Runs first in a thread (`new Worker(BOOTSTRAP, { eval: true, workerData })`): loads tsx
 * where `workerData.tsx` says so, then the module `workerData.entry`.
 */
export const BOOTSTRAP = `
const { workerData } = require("node:worker_threads");
(async () => {
  if (workerData.tsx) (await import(workerData.tsx)).register();
  await import(workerData.entry);
})().catch((error) => { setImmediate(() => { throw error; }); });
`;
