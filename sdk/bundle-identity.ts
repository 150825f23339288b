// Code identity inside a deployed bundle, where the project's source files do not exist. esbuild
// (not minifying, as squall's construct has it) writes a line `// <project-relative path>` before
// each module's code in the one file it makes, and the deployment lists the project's modules with
// the hashes of their sources at synth (SQUALL_BUNDLED_MODULES). So a stack frame in the bundle
// names the project module it runs in, and that module's identity is its synth-time hash: the one
// a deployed worker checks the caller's against.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { InvalidArgumentError } from "./errors.js";

/**
 * The variable listing the source modules a bundle was built from, as JSON
 * `{ "<project-relative path>": "<moduleHash of the file>" }` (the deployment computes it).
 */
export const BUNDLED_MODULES_VARIABLE = "SQUALL_BUNDLED_MODULES";

/** What a bundle knows of the project modules it carries. */
export interface BundleIdentity {
  /** The bundle file's URL: the only file whose stack frames it can map. */
  readonly file: string;
  /**
   * The project module that line `line` of the bundle belongs to, as the file URL it would have
   * beside the bundle (`file:///var/task/src/flows.ts`); `undefined` for squall's own code, a
   * package's, or the generated entry.
   */
  moduleAt(line: number): string | undefined;
  /** The synth-time hash of a module `moduleAt` names; `undefined` for any other. */
  hashOf(module: string): string | undefined;
}

/** This file as squall's own source or build has it; under any other name it runs inside a bundle. */
const UNBUNDLED = /\/bundle-identity\.[cm]?[jt]s$/;

/** A module marker esbuild writes: a comment line holding a source file's path, and nothing else. */
const MODULE_MARKER = /^\/\/ (\S.*\.(?:[cm]?[jt]s|[jt]sx))$/;

let current: BundleIdentity | null | undefined;

/**
 * The identity of the bundle this code runs in, or `undefined` when it runs from squall's source
 * or build, or in a bundle the deployment did not list modules for. Decided once.
 */
export function bundleIdentity(): BundleIdentity | undefined {
  if (current === undefined) {
    const listed = process.env[BUNDLED_MODULES_VARIABLE];
    current =
      UNBUNDLED.test(import.meta.url) || !listed
        ? null
        : bundleIdentityOf(import.meta.url, parseBundledModules(listed));
  }
  return current ?? undefined;
}

/** `SQUALL_BUNDLED_MODULES` as a map, or an error saying what it should hold. */
export function parseBundledModules(text: string): Record<string, string> {
  let modules: unknown;
  try {
    modules = JSON.parse(text);
  } catch (error) {
    throw new InvalidArgumentError(
      `Expected ${BUNDLED_MODULES_VARIABLE} to be JSON { "<path>": "<moduleHash>" }, got \`${text}\`: ${(error as Error).message}`,
    );
  }
  const valid =
    typeof modules === "object" &&
    modules !== null &&
    !Array.isArray(modules) &&
    Object.values(modules).every((hash) => typeof hash === "string");
  if (!valid) {
    throw new InvalidArgumentError(
      `Expected ${BUNDLED_MODULES_VARIABLE} to be JSON { "<path>": "<moduleHash>" }, got \`${text}\`. The deployment sets it; redeploy rather than editing it.`,
    );
  }
  return modules as Record<string, string>;
}

/**
 * The identity of the bundle at `file` (a file URL) built from `modules` (project-relative path
 * to hash). The bundle is read on the first `moduleAt`, once.
 */
export function bundleIdentityOf(file: string, modules: Readonly<Record<string, string>>): BundleIdentity {
  const folder = dirname(fileURLToPath(file));
  const urlOf = (path: string) => pathToFileURL(join(folder, path)).href;
  const hashes = new Map(Object.entries(modules).map(([path, hash]) => [urlOf(path), hash]));
  let markers: { readonly line: number; readonly module: string | undefined }[] | undefined;
  return {
    file,
    moduleAt(line) {
      markers ??= readMarkers(fileURLToPath(file), (path) =>
        Object.hasOwn(modules, path) ? urlOf(path) : undefined,
      );
      // The last marker at or before the line: the module whose code the line is in.
      let low = 0;
      let high = markers.length - 1;
      let found: string | undefined;
      while (low <= high) {
        const middle = (low + high) >> 1;
        const marker = markers[middle] as (typeof markers)[number];
        if (marker.line <= line) {
          found = marker.module;
          low = middle + 1;
        } else high = middle - 1;
      }
      return found;
    },
    hashOf: (module) => hashes.get(module),
  };
}

/** Every module marker in the bundle, in line order, with the project module it names (if one). */
function readMarkers(path: string, projectModule: (path: string) => string | undefined) {
  const markers: { line: number; module: string | undefined }[] = [];
  const lines = readFileSync(path, "utf8").split("\n");
  lines.forEach((text, index) => {
    const path = text.startsWith("// ") ? MODULE_MARKER.exec(text.trimEnd())?.[1] : undefined;
    if (path !== undefined) markers.push({ line: index + 1, module: projectModule(path) });
  });
  return markers;
}
