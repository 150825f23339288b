import { fileURLToPath, pathToFileURL } from "node:url";

// This SDK's own folder (`sdk/` from source, `dist/sdk/` built): frames there are squall's.
const OWN_PATH = fileURLToPath(new URL(".", import.meta.url));
const OWN_URL = pathToFileURL(OWN_PATH).href;

const FRAME = /^\s+at /;

/** A frame that only says how the user's code was called: squall's own, or Node's internals. */
function isRuntimeFrame(line: string): boolean {
  const where = /\((.*)\)$/.exec(line)?.[1] ?? line.replace(/^\s+at (async )?/, "");
  return (
    where.startsWith(OWN_PATH) ||
    where.startsWith(OWN_URL) ||
    where.startsWith("node:") ||
    /^index \d+$/.test(where) ||
    where === "<anonymous>"
  );
}

/**
 * `stack` without the frames at its bottom that are squall's or Node's: how a runner, a thread
 * or a worker called the task, which says nothing about the error. A stack with no frame of
 * the user's is kept whole (an error of squall's own, or code bundled with squall in one file).
 *
 * @example
 * userStack("Error: no\n    at load (/app/flows.ts:3:9)\n    at TaskRun.invoke (/app/node_modules/squall/dist/sdk/engine/task-run.js:9:1)");
 * // "Error: no\n    at load (/app/flows.ts:3:9)"
 */
export function userStack(stack: string): string {
  const lines = stack.split("\n");
  let end = lines.length;
  while (end > 0 && FRAME.test(lines[end - 1] as string) && isRuntimeFrame(lines[end - 1] as string))
    end -= 1;
  if (end === lines.length || !FRAME.test(lines[end - 1] ?? "")) return stack;
  return lines.slice(0, end).join("\n");
}
