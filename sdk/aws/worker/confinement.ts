// What a task message may make a worker do. A message is data from whoever may send to the task
// queue, so its module and its stored-value references are checked before anything is imported
// or read: a worker imports only modules of its own deployment, and reads stored values only from
// its own bucket, under the flow run's own prefix.
import { realpathSync } from "node:fs";
import { extname, isAbsolute, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { MessageRefusedError } from "../../errors.js";
import { runPrefix } from "../../storage/keys.js";
import type { ResultStore, StoreLocator } from "../../storage/result-store.js";

const SOURCE_EXTENSIONS = new Set([".js", ".mjs", ".cjs", ".ts", ".mts", ".cts", ".jsx", ".tsx"]);

/**
 * The file a local worker may import for `module`, or why not: a `file:` URL of a source file
 * under `projectRoot`, outside `node_modules`, that exists (symbolic links followed, so that a
 * link cannot lead out). `data:`, `http:`, `node:` and bare or relative specifiers are refused.
 */
export function localModuleRefusal(module: string, projectRoot: string): string | undefined {
  if (allowed.get(module) === projectRoot) return undefined; // every run after the first: no file system calls
  const refusal = checkLocalModule(module, projectRoot);
  if (refusal === undefined) allowed.set(module, projectRoot);
  return refusal;
}

/** Modules found allowed, with the root they were checked against; only files of the project, so few. */
const allowed = new Map<string, string>();

function checkLocalModule(module: string, projectRoot: string): string | undefined {
  const rule = `a worker of the local environment imports only source files of its project (${projectRoot}), outside node_modules`;
  if (!module.startsWith("file:")) return `${rule}, named by file: URLs`;
  let path: string;
  try {
    path = realpathSync(fileURLToPath(module));
  } catch {
    return `${rule}, and there is no such file`;
  }
  const root = realRoot(projectRoot);
  const inside = relative(root, path);
  if (inside === "" || inside.startsWith("..") || isAbsolute(inside)) return rule;
  if (inside.split(sep).includes("node_modules")) return rule;
  if (!SOURCE_EXTENSIONS.has(extname(path))) return rule;
  return undefined;
}

const roots = new Map<string, string>();
function realRoot(projectRoot: string): string {
  let real = roots.get(projectRoot);
  if (real === undefined) {
    real = realpathSync(projectRoot);
    roots.set(projectRoot, real);
  }
  return real;
}

/** Refuses, naming the rule, a module a worker must not import for task `task`. */
export function refuseModule(module: string, task: string, reason: string): never {
  throw new MessageRefusedError(
    `Refused to load task '${task}' from ${JSON.stringify(module.slice(0, 200))}: ${reason}. Nothing was imported.`,
  );
}

/**
 * Opens, for the arguments of a run of flow run `flowRunId`, the store a stored value's locator
 * names: only the worker's own bucket (`own`, whose name is `bucket`), with no prefix of its own,
 * and then only keys under the flow run's prefix. Anything else is refused before any request is
 * sent. The locator's endpoint, region and credentials are never used: reads go through `own`.
 */
export function confinedOpener(
  own: ResultStore,
  bucket: string | undefined,
  flowRunId: string,
): (locator: StoreLocator) => Promise<ResultStore> {
  const prefix = runPrefix(flowRunId);
  const refuse = (what: string) =>
    new MessageRefusedError(
      `Refused to read a stored argument ${what}: a worker reads stored values only from its own bucket${bucket ? ` (${bucket})` : ""}, under the flow run's prefix ${prefix}. Nothing was read.`,
    );
  return async (locator) => {
    if (locator?.kind !== "s3") throw refuse(`from a ${String(locator?.kind)} store`);
    if (bucket === undefined || locator.bucket !== bucket)
      throw refuse(`from bucket ${JSON.stringify(locator.bucket)}`);
    if (locator.prefix) throw refuse(`under prefix ${JSON.stringify(locator.prefix)}`);
    // Reading is all a stored argument needs.
    const readOnly = () => Promise.reject(refuse("by writing or listing"));
    return {
      get: (key: string) =>
        isUnder(key, prefix) ? own.get(key) : Promise.reject(refuse(`at ${JSON.stringify(key)}`)),
      put: readOnly,
      exists: readOnly,
      list: readOnly,
      create: readOnly,
    };
  };
}

/** Whether `key` lies under `prefix`, with no segment that a server could resolve elsewhere. */
export function isUnder(key: string, prefix: string): boolean {
  if (typeof key !== "string" || !key.startsWith(prefix)) return false;
  return !key.split("/").some((segment) => segment === "." || segment === "..") && !key.includes("\\");
}
