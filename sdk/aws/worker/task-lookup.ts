import { fileURLToPath } from "node:url";
import type { TaskDefinition } from "../../engine/definitions.js";
import { CodeMismatchError, SquallError } from "../../errors.js";
import { registeredTask, sourceHash, whenRegistered } from "../../registry.js";
import { type AttemptSpec, findTask, verifyCode } from "../../remote/attempt.js";
import type { TaskRecord } from "../wire/messages.js";
import { localModuleRefusal, refuseModule } from "./confinement.js";
import { reloadNeeded, StaleModuleError } from "./reload.js";

/**
 * How long a bundled flows module, still loading, may take to define a task. Its tasks are
 * defined as the bundle loads, before the first invocation, so this only covers a module that
 * awaits something first; an unknown name fails after it, without holding the batch long.
 */
const FIND_TASK_MS = 2_000;

export interface TaskLookupOptions {
  /** The bundle's source modules: project-relative path → source hash (see `TaskWorkerOptions`). */
  readonly bundled?: Readonly<Record<string, string>>;
  /** Where a worker without a bundle may import task modules from. */
  readonly projectRoot: string;
  /**
   * Whether a worker without a bundle that loaded a task module before it changed (the caller's
   * code hash is that of the file as it is now) has it reloaded rather than failing the run with
   * `CodeMismatchError`: the local environment's workers. @default false
   */
  readonly reloadModules?: boolean;
}

/**
 * The task a record names. In a deployed bundle the caller's module path does not exist:
 * a module the bundle was built from is matched by its path, its task found by name, and
 * the caller's code hash checked against the hash of the source the bundle was built from.
 */
export async function findRecordTask(
  record: TaskRecord,
  spec: AttemptSpec,
  options: TaskLookupOptions,
): Promise<TaskDefinition> {
  const module = record.module as string;
  const bundledHash = bundledSourceHash(options.bundled, module);
  if (options.bundled && bundledHash === undefined) {
    refuseModule(
      module,
      record.task,
      "a deployed worker runs only tasks of the modules its bundle was built from",
    );
  }
  if (bundledHash === undefined) {
    const refusal = localModuleRefusal(module, options.projectRoot);
    if (refusal) refuseModule(module, record.task, refusal);
    const def = await findTask(module, record.task);
    if (
      options.reloadModules &&
      spec.verifySource &&
      def.codeHash !== spec.codeHash &&
      sourceHash(module) === spec.codeHash &&
      reloadNeeded(module)
    ) {
      throw new StaleModuleError(module, record.task);
    }
    verifyCode(def, spec);
    return def;
  }
  const def = registeredTask(record.task) ?? (await whenRegistered(record.task, FIND_TASK_MS));
  if (!def) throw new SquallError(`The worker's bundle has no task named '${record.task}' (from ${module}).`);
  if (spec.verifySource && bundledHash !== record.codeHash) {
    throw new CodeMismatchError(
      `The worker's code for task '${record.task}' differs from the caller's: redeploy so both run the same code, or set \`verifySource: false\` on the task.`,
    );
  }
  return def;
}

/** The hash of the bundled source `module` (a caller's file URL) was built from, if it was bundled. */
function bundledSourceHash(
  bundled: Readonly<Record<string, string>> | undefined,
  module: string,
): string | undefined {
  if (!bundled) return undefined;
  const path = module.startsWith("file:") ? fileURLToPath(module) : module;
  for (const [source, hash] of Object.entries(bundled)) {
    if (path === source || path.endsWith(`/${source.replace(/^\.?\//, "")}`)) return hash;
  }
  return undefined;
}
