import { existsSync, readFileSync, statSync } from "node:fs";
import { isAbsolute, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { enterWorkerMode } from "../context.js";
import { DuplicateFlowNameError, toError } from "../errors.js";
import { type FlowStarter, flowNames, registeredFlow } from "../registry.js";
import { UsageError } from "./usage-error.js";

/** `flows.ts:greetings` split at its last colon. */
export function parseTarget(target: string): { file: string; flow: string } {
  const colon = target.lastIndexOf(":");
  const file = colon > 0 ? target.slice(0, colon) : "";
  const flow = colon > 0 ? target.slice(colon + 1) : "";
  if (!file || !flow || /^[\\/]/.test(flow)) {
    throw new UsageError(
      `Expected <file>:<flow>, such as examples/flows.ts:greetings, got \`${target}\`: name the module and the flow it defines.`,
    );
  }
  return { file, flow };
}

/** How long a module still loading may go on with no new flow defined before the flow asked for is given up. */
const QUIET_MS = 2_000;
/** How long a module may take to define its first flow. */
const FIRST_FLOW_MS = 60_000;

/**
 * Imports the flows module and finds the flow by name. The module is imported as a worker
 * imports it: its own top-level flow calls are skipped (and never settle), so a script that
 * runs its flow at the bottom defines it here without running it. A module awaiting such a
 * call never finishes loading: the flow is looked up as soon as it is defined.
 */
export async function loadFlow(file: string, flow: string): Promise<FlowStarter> {
  const path = resolve(file);
  if (!existsSync(path) || !statSync(path).isFile()) {
    throw new UsageError(
      `There is no file ${file} (looked for ${path}): give the path of the module that defines the flow, from the current directory.`,
    );
  }
  enterWorkerMode();
  let loaded = false;
  let failed: Error | undefined;
  import(pathToFileURL(path).href).then(
    () => {
      loaded = true;
    },
    (error) => {
      failed = toError(error);
    },
  );
  const began = Date.now();
  let defined = flowNames().length;
  let quietSince = began;
  for (;;) {
    const start = flowNamed(flow, file);
    if (start) return start;
    if (failed) {
      const { problem, source } = describeLoadError(failed);
      throw new UsageError(
        `Could not load ${file}: ${problem}. Fix the module, or check that it runs: npx tsx ${file}${source}`,
        { cause: failed },
      );
    }
    const now = Date.now();
    if (flowNames().length !== defined) {
      defined = flowNames().length;
      quietSince = now;
    }
    const stuck = defined > 0 ? now - quietSince > QUIET_MS : now - began > FIRST_FLOW_MS;
    if (loaded || stuck) throw notFound(file, flow);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The flow of that name, if defined yet; two of that name is bad usage. */
function flowNamed(flow: string, file: string): FlowStarter | undefined {
  try {
    return registeredFlow(flow);
  } catch (error) {
    if (error instanceof DuplicateFlowNameError) {
      throw new UsageError(`${file}: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

function notFound(file: string, flow: string): UsageError {
  const known = flowNames();
  if (known.length === 0) {
    return new UsageError(
      `${file} defines no flow: a flow is made at the module's top level with flow(fn), and named after its function or options.name.`,
    );
  }
  return new UsageError(
    `${file} defines no flow named '${flow}'; it defines ${known.map((name) => `'${name}'`).join(", ")}: squall run ${file}:${known[0]}`,
  );
}

/** `path:2:57: ERROR: Unexpected ";"`, as esbuild (under tsx) words a module that does not compile; its column counts from 0. */
const COMPILE_ERROR = /^(.+?):(\d+):(\d+): ERROR: (.*)$/;

/**
 * Why a module failed to load, on one line; for a module that does not compile, where (its path
 * from the current directory, line and column from 1) and what the compiler said, and after it
 * the source line with a caret under the place.
 */
export function describeLoadError(error: Error): { problem: string; source: string } {
  const lines = error.message.split("\n");
  const located = lines.map((line) => line.trim().match(COMPILE_ERROR)).filter((match) => match !== null);
  const first = located[0];
  if (first) {
    const [, path = "", line = "0", column = "0", text = ""] = first;
    const lineNumber = Number(line);
    const columnNumber = Number(column) + 1;
    const more =
      located.length > 1 ? ` (and ${located.length - 1} more error${located.length > 2 ? "s" : ""})` : "";
    const problem = `${shownPath(path)}:${lineNumber}:${columnNumber}: ERROR: ${text}${more}`;
    return { problem, source: sourceLine(path, lineNumber, columnNumber) };
  }
  return { problem: `${error.name}: ${(lines[0] ?? "").trim()}`, source: "" };
}

/** The line of the file with a caret under the column, indented, after a newline; nothing if it cannot be read. */
function sourceLine(path: string, line: number, column: number): string {
  let text: string | undefined;
  try {
    text = readFileSync(path, "utf8").split(/\r?\n/)[line - 1];
  } catch {}
  if (text === undefined) return "";
  const gutter = String(line);
  const shown = text.replace(/\t/g, " ");
  return `\n  ${gutter} | ${shown}\n  ${" ".repeat(gutter.length)} | ${" ".repeat(Math.max(column - 1, 0))}^`;
}

/** A path from the current directory when it lies below it, else as given. */
function shownPath(path: string): string {
  const shown = relative(process.cwd(), path);
  return shown && !shown.startsWith("..") && !isAbsolute(shown) ? shown : path;
}
