// What SQUALL_BUNDLED_MODULES tells a deployed worker: the project's own source files that the
// flows module's bundle is built from, each with its moduleHash. A caller's task record names its
// module by path and carries the hash of that file; the worker runs the task by name only if the
// path is one of these and the hashes agree (the same code identity as worker threads).
import { createRequire } from "node:module";
import { isAbsolute, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { moduleHash } from "../../sdk/registry.js";
import { SQUALL_SOURCE } from "./sdk-files.js";

/** Lambda allows 4 KB of environment in all; this list must leave room for the rest. */
const MAX_JSON_LENGTH = 2_500;

const SOURCE_FILE = /\.(?:[cm]?[jt]s|[jt]sx)$/;

/**
 * `{ "<path relative to projectRoot>": "<moduleHash>" }` for `flows` and every project file it
 * imports, as esbuild resolves them (tsconfig paths included). Packages and squall's own source
 * are left out: they define no tasks of the user's, and would crowd the environment.
 */
export function bundledModules(projectRoot: string, flows: string): Record<string, string> {
  // Only resolving imports: packages stay external, nothing is written. A few tens of ms.
  const { metafile } = esbuild(projectRoot).buildSync({
    entryPoints: [resolve(projectRoot, flows)],
    absWorkingDir: projectRoot,
    bundle: true,
    packages: "external",
    platform: "node",
    format: "esm",
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  const squallSource = relative(projectRoot, SQUALL_SOURCE);
  const modules: Record<string, string> = {};
  for (const input of Object.keys(metafile.inputs).sort()) {
    const inProject = !input.startsWith("../") && !isAbsolute(input) && !input.includes("node_modules/");
    const isSquall = !squallSource.startsWith("..") && input.startsWith(`${squallSource}/`);
    if (!inProject || isSquall || !SOURCE_FILE.test(input)) continue;
    const hash = moduleHash(pathToFileURL(resolve(projectRoot, input)).href);
    if (hash) modules[input] = hash;
  }
  const length = JSON.stringify(modules).length;
  if (length > MAX_JSON_LENGTH) {
    throw new Error(
      `The flows module ${flows} imports ${Object.keys(modules).length} project files, too many to list in the worker's environment (${length} characters of JSON, ${MAX_JSON_LENGTH} at most): deploy a flows module that imports only the files defining its tasks.`,
    );
  }
  return modules;
}

/**
 * esbuild, from the project being synthesized (or beside squall). It is an optional peer, as
 * NodejsFunction, which bundles the functions, needs it too; loaded here so that importing
 * `squall/cdk` names what to install instead of failing on a bare import.
 */
function esbuild(projectRoot: string): typeof import("esbuild") {
  for (const from of [resolve(projectRoot, "package.json"), import.meta.url]) {
    try {
      return createRequire(from)("esbuild");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "MODULE_NOT_FOUND") throw error;
    }
  }
  throw new Error(
    "squall/cdk bundles the functions with esbuild, which is not installed in this project: npm install --save-dev esbuild",
  );
}
