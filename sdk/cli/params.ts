import { UsageError } from "./usage-error.js";

/**
 * The flow's arguments from `--params`: a JSON array is the arguments, anything else the one
 * argument (as the flow-runner function takes them); no `--params`, no arguments.
 */
export function parseParams(text: string | undefined): unknown[] {
  if (text === undefined) return [];
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UsageError(
      `--params is not JSON (${(error as Error).message}): give a JSON array of the flow's arguments, such as --params '["arthur", 42]' (quote it for the shell).`,
    );
  }
  return Array.isArray(value) ? value : [value];
}

/**
 * Checks the arguments against the flow function's parameters: at least as many as it
 * requires (`fn.length`), and no more than it declares unless it has a rest parameter.
 */
export function checkParams(
  flowName: string,
  fn: (...args: never[]) => unknown,
  args: readonly unknown[],
  given: string | undefined,
): void {
  const { names, rest } = parameterList(fn);
  const required = fn.length;
  if (args.length >= required && (rest || args.length <= names.length)) return;
  const takes =
    rest || required !== names.length
      ? `${required}${rest ? " or more" : ` to ${names.length}`} arguments`
      : `${names.length} argument${names.length === 1 ? "" : "s"}`;
  const list = names.length > 0 ? ` (${names.join(", ")})` : "";
  if (given === undefined) {
    throw new UsageError(
      `Flow '${flowName}' takes ${takes}${list}, and none were given: pass them with --params '[...]', a JSON array with one value per argument.`,
    );
  }
  const hint =
    names.length === 1 && args.length > 1
      ? `; to pass one array, wrap it: --params '${JSON.stringify([args])}'`
      : ": give a JSON array with one value per argument";
  throw new UsageError(
    `Flow '${flowName}' takes ${takes}${list}, got ${args.length} from --params '${given}'${hint}.`,
  );
}

/** The names of a function's parameters, as its source declares them, and whether the last is a rest parameter. */
export function parameterList(fn: (...args: never[]) => unknown): { names: string[]; rest: boolean } {
  const source = Function.prototype.toString.call(fn);
  const bare = source.match(/^(?:async\s+)?([\w$]+)\s*=>/);
  if (bare?.[1]) return { names: [bare[1]], rest: false };
  const open = source.indexOf("(");
  if (open < 0) return { names: [], rest: false };
  const params = splitTopLevel(source.slice(open + 1))
    .map((param) => param.trim())
    .filter(Boolean);
  const names = params.map((param) => {
    const name = param.replace(/\s*=[\s\S]*$/, "").replace(/\s+/g, " ");
    return name.length > 24 ? `${name.slice(0, 21)}...` : name;
  });
  return { names, rest: params.at(-1)?.startsWith("...") ?? false };
}

/** The text up to the parenthesis that closes the list, split at its top-level commas. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const char = text[i] as string;
    if (quote) {
      if (char === "\\") i++;
      else if (char === quote) quote = undefined;
    } else if (char === '"' || char === "'" || char === "`") quote = char;
    else if (char === "(" || char === "[" || char === "{") depth++;
    else if (char === ")" || char === "]" || char === "}") {
      if (depth === 0) {
        parts.push(text.slice(start, i));
        return parts;
      }
      depth--;
    } else if (char === "," && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  return parts;
}
