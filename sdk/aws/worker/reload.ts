// In the local environment, a worker thread lives on while the project's files change. A task
// module edited since the thread loaded it would fail every run of the new code with
// CodeMismatchError; instead the thread sends such runs back and makes way for a fresh thread,
// which loads the module as it is now. A deployed worker never does: its bundle is what was
// deployed, and a mismatch there is a real deployment error.
import { SquallError } from "../../errors.js";

/** The worker loaded an older version of a task module than the caller ran, which is on disk now. */
export class StaleModuleError extends SquallError {
  constructor(module: string, task: string) {
    super(
      `The worker loaded ${module} before it changed: task '${task}' goes back to a worker that loads it as it is now.`,
    );
  }
}

let listener: ((module: string) => void) | undefined;

/** Called when a worker of this thread finds a task module changed (at most once per thread matters). */
export function whenReloadNeeded(onReload: ((module: string) => void) | undefined): void {
  listener = onReload;
}

/** Tells this thread's host that its modules are stale; false when no one here can reload them. */
export function reloadNeeded(module: string): boolean {
  if (!listener) return false;
  listener(module);
  return true;
}
