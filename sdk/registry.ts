import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { bundleIdentity } from "./bundle-identity.js";
import type { TaskDefinition } from "./engine/definitions.js";
import type { FlowRunIdentity, FlowRunState } from "./engine/flow-run.js";
import { DuplicateFlowNameError, DuplicateTaskNameError } from "./errors.js";
import type { FlowOptions } from "./options.js";

/**
 * Tasks by name, so that another process (a worker thread, a Lambda) that imports the
 * module defining a task finds it by name. Code never travels: a message can only name
 * a task that the worker's own code defines.
 */
const tasks = new Map<string, TaskDefinition>();

export function registerTask(def: TaskDefinition): void {
  const existing = tasks.get(def.name);
  if (existing && existing.fn !== def.fn) {
    throw new DuplicateTaskNameError(
      `A different task named '${def.name}' is already defined${existing.module ? ` (in ${existing.module})` : ""}. Give one of them another name: task({ name: "..." }, fn).`,
    );
  }
  if (!existing) {
    tasks.set(def.name, def);
    for (const resolve of [...(waiting.get(def.name) ?? [])]) resolve(def);
    waiting.delete(def.name);
  }
}

const waiting = new Map<string, ((def: TaskDefinition) => void)[]>();

/**
 * Starts a run of a flow by name, whatever mode the process is in (a flow-runner starts
 * flows that a worker-mode import of their module would skip).
 */
export interface FlowStarter {
  /** `overrides` change the flow's options for this run only, as `withOptions` does (the CLI's `--runner`). */
  (
    args: unknown[],
    overrides?: FlowOptions<unknown>,
    /** Who the run is, when a driver resuming it decides (its id, name and first start). */
    identity?: FlowRunIdentity,
  ): {
    readonly id: string;
    readonly name: string;
    readonly final: Promise<FlowRunState<unknown>>;
  };
  /** The flow's function: its `length` and parameter list tell what arguments it takes. */
  readonly fn: (...args: never[]) => unknown;
  /** The name of the flow's own task runner (`sequential`, `threads`, ...); none when it has the default. */
  readonly taskRunnerName?: string | undefined;
}

const flows = new Map<string, FlowStarter>();
/** Names two different flows have: asking for one by such a name is an error, not a guess. */
const ambiguous = new Set<string>();

/** Flows by name, for a flow-runner (or `squall run`) to start. */
export function registerFlow(name: string, start: FlowStarter): void {
  const known = flows.get(name);
  if (!known) flows.set(name, start);
  // The same flow defined again (its module loaded twice) is no conflict.
  else if (known.fn !== start.fn && String(known.fn) !== String(start.fn)) ambiguous.add(name);
}

/** The flow of this name; throws `DuplicateFlowNameError` when two different flows have it. */
export function registeredFlow(name: string): FlowStarter | undefined {
  if (ambiguous.has(name)) {
    throw new DuplicateFlowNameError(
      `Two different flows are named '${name}': give one of them another name with flow({ name: "..." }, fn), so that the right one starts.`,
    );
  }
  return flows.get(name);
}

/** The names of the flows this process has defined. */
export function flowNames(): string[] {
  return [...flows.keys()];
}

/**
 * The task of this name once it is registered, or `undefined` if it is not within `ms`: a
 * worker importing a module learns of its tasks as their definitions run, even if the module's
 * evaluation then waits (on a flow call). A wait that ends leaves nothing behind.
 */
export function whenRegistered(name: string, ms: number): Promise<TaskDefinition | undefined> {
  const existing = tasks.get(name);
  if (existing) return Promise.resolve(existing);
  return new Promise((resolve) => {
    const done = (def?: TaskDefinition) => {
      clearTimeout(timer);
      const list = waiting.get(name);
      const index = list?.indexOf(done) ?? -1;
      if (index >= 0) list?.splice(index, 1);
      if (list?.length === 0) waiting.delete(name);
      resolve(def);
    };
    const timer = setTimeout(done, ms);
    timer.unref();
    const list = waiting.get(name);
    if (list) list.push(done);
    else waiting.set(name, [done]);
  });
}

/** Modules whose evaluation, in a worker, reached a flow call the worker skips, which never settles. */
const stalled = new Map<string, { readonly promise: Promise<void>; resolve?: () => void }>();

/** A worker skipped a flow call that `module` made outside any run: its evaluation stops there. */
export function noteSkippedFlowCall(module: string | undefined): void {
  if (!module) return;
  const known = stalled.get(module);
  if (known?.resolve) {
    known.resolve();
    known.resolve = undefined;
  } else if (!known) stalled.set(module, { promise: Promise.resolve() });
}

/**
 * Settles when `module`'s evaluation in this worker stops at a flow call it skips: the tasks it
 * defines after that call are never defined here.
 */
export function whenStalled(module: string): Promise<void> {
  let known = stalled.get(module);
  if (!known) {
    let resolve: (() => void) | undefined;
    const promise = new Promise<void>((r) => {
      resolve = r;
    });
    known = { promise, resolve };
    stalled.set(module, known);
  }
  return known.promise;
}

export function registeredTask(name: string): TaskDefinition | undefined {
  return tasks.get(name);
}

const SDK_FOLDER = new URL(".", import.meta.url).href;

/**
 * The URL of the module that called into squall: the first stack frame outside the SDK. In a
 * deployed bundle, where everything is one file, the first frame in one of the project's bundled
 * modules, named by the URL its source would have beside the bundle.
 */
export function callerModule(): string | undefined {
  const original = Error.prepareStackTrace;
  const holder: { stack?: NodeJS.CallSite[] } = {};
  try {
    Error.prepareStackTrace = (_, frames) => frames;
    Error.captureStackTrace(holder, callerModule);
    const bundle = bundleIdentity();
    for (const frame of holder.stack ?? []) {
      const file = frame.getFileName();
      if (!file || file.startsWith("node:")) continue;
      const url = file.startsWith("file:") ? file : pathToFileURL(file).href;
      if (bundle) {
        const module = url === bundle.file ? bundle.moduleAt(frame.getLineNumber() ?? 0) : undefined;
        if (module) return module;
      } else if (!url.startsWith(SDK_FOLDER)) return url;
    }
    return undefined;
  } finally {
    Error.prepareStackTrace = original;
  }
}

const moduleHashes = new Map<string, string | undefined>();

/**
 * The hash of a module's source file as read from disk, so that two processes that load
 * the same file agree however each transpiles it. In a deployed bundle, a bundled module's is
 * the hash of its source computed at synth (the file is not there to read); `undefined` where
 * neither is known. Read once per module, when its first task is defined.
 */
export function moduleHash(module: string | undefined): string | undefined {
  if (!module) return undefined;
  const bundled = bundleIdentity()?.hashOf(module);
  if (bundled) return bundled;
  if (moduleHashes.has(module)) return moduleHashes.get(module);
  const hash = sourceHash(module);
  moduleHashes.set(module, hash);
  return hash;
}

/** The hash of a module's source file as it is on disk now (`moduleHash` keeps the first it read). */
export function sourceHash(module: string): string | undefined {
  try {
    return createHash("sha256")
      .update(readFileSync(fileURLToPath(module)))
      .digest("hex")
      .slice(0, 16);
  } catch {
    return undefined;
  }
}
