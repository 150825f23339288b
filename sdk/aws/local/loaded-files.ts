// A local function thread lives on while the project's files change, but it cannot unload a module
// it imported: a helper module a task imports, edited between runs, would keep running as it was.
// So the thread records each project source file it loads (a module loader hook, in this thread,
// so it sees exactly what this thread imported, whether through tsx or plain Node) with its
// modification time, and checks those times before each invocation and while idle. That costs a
// stat per loaded project file per invocation (a few dozen, microseconds each), needs no watcher,
// and behaves the same on Linux and macOS, where a recursive `fs.watch` of the project would
// walk node_modules on Linux (one inotify watch per folder, against the system's limit) and miss
// or coalesce events differently per platform.
import { statSync } from "node:fs";
import * as nodeModule from "node:module";
import { extname, isAbsolute, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** The extensions of the project files a thread tracks: its TypeScript, JavaScript and JSON sources. */
const SOURCE_EXTENSIONS = new Set([".ts", ".mts", ".cts", ".tsx", ".js", ".mjs", ".cjs", ".json"]);

/** The project source files a thread has loaded, and whether one changed since. */
export interface LoadedFiles {
  /** The first loaded file that changed (or went away) since it was loaded; `undefined` when none did. */
  changed(): string | undefined;
}

/**
 * Starts recording the project source files (under `projectRoot`, outside `node_modules` and
 * `.squall`) this thread loads from now on. `undefined` where this Node has no synchronous
 * module hooks (`module.registerHooks`, Node 22.15+): then only a changed task module is noticed.
 */
export function trackLoadedFiles(projectRoot: string): LoadedFiles | undefined {
  const register = (nodeModule as { registerHooks?: RegisterHooks }).registerHooks;
  if (typeof register !== "function") return undefined;
  const loaded = new Map<string, number>(); // path → modification time when it was loaded
  register({
    load(url, context, nextLoad) {
      const path = projectSource(url, projectRoot);
      // Stat before the file is read: an edit in between shows as a change, never as none.
      if (path !== undefined && !loaded.has(path)) loaded.set(path, modifiedAt(path));
      return nextLoad(url, context);
    },
  });
  return {
    changed() {
      for (const [path, mtime] of loaded) if (modifiedAt(path) !== mtime) return path;
      return undefined;
    },
  };
}

/** The file's path when `url` is a source file of the project, not of its dependencies or squall's state. */
export function projectSource(url: string, projectRoot: string): string | undefined {
  if (!url.startsWith("file:")) return undefined;
  const path = fileURLToPath(url.replace(/[?#].*$/, ""));
  if (!SOURCE_EXTENSIONS.has(extname(path))) return undefined;
  const inside = relative(projectRoot, path);
  if (inside === "" || inside === ".." || inside.startsWith(`..${sep}`) || isAbsolute(inside))
    return undefined;
  const folders = inside.split(sep);
  return folders.includes("node_modules") || folders[0] === ".squall" ? undefined : path;
}

/** The file's modification time; -1 when it cannot be read (removed: a change too). */
function modifiedAt(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return -1;
  }
}

type LoadHook = (
  url: string,
  context: object,
  nextLoad: (url: string, context: object) => unknown,
) => unknown;
type RegisterHooks = (hooks: { load: LoadHook }) => unknown;
