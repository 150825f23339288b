import { createRequire } from "node:module";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { registerTsxInThreads } from "../runners/threads/bootstrap.js";
import { UsageError } from "./usage-error.js";

let registered = false;

/**
 * Lets `import()` load a TypeScript flows file. From source the CLI already runs under tsx (the
 * bin shim registered it, and threads register it themselves); from `dist/` it registers the
 * user's tsx, or squall's own if any, here and in the threads that will import the file.
 */
export async function ensureTypeScript(file: string): Promise<void> {
  if (!/\.[cm]?tsx?$/.test(file) || registered || import.meta.url.endsWith(".ts")) return;
  const api = findTsx();
  if (!api) {
    throw new UsageError(
      `${file} is TypeScript, and squall loads TypeScript with tsx, which is not installed here: npm install --save-dev tsx (or give the compiled .js file).`,
    );
  }
  ((await import(api)) as { register: () => unknown }).register();
  registerTsxInThreads(); // the tasks' threads (ThreadPoolTaskRunner, the local Lambda environment) import it too
  registered = true;
}

function findTsx(): string | undefined {
  for (const from of [resolve("package.json"), import.meta.url]) {
    try {
      return pathToFileURL(
        createRequire(from)
          .resolve("tsx/esm/api")
          .replace(/\.cjs$/, ".mjs"),
      ).href;
    } catch {}
  }
  return undefined;
}
