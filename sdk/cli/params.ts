import type * as TS from "typescript";
import type { TypeScript } from "./compiler.js";
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
 * requires (`fn.length`), and no more than it declares unless it has a rest parameter. Without
 * the compiler (`ts`), the parameters are not known by name: only the required ones count.
 */
export function checkParams(
  flowName: string,
  fn: (...args: never[]) => unknown,
  args: readonly unknown[],
  given: string | undefined,
  ts: TypeScript | undefined,
): void {
  const known = ts && parameterList(ts, fn);
  const { names, rest } = known ?? { names: [], rest: true };
  const required = fn.length;
  if (args.length >= required && (rest || args.length <= names.length)) return;
  const takes = !known
    ? `at least ${required} argument${required === 1 ? "" : "s"}`
    : rest || required !== names.length
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

/**
 * The names of a function's parameters, as its source declares them (parsed by the compiler, so
 * that comments, defaults and destructuring read right), and whether the last is a rest
 * parameter; `undefined` if its source cannot be parsed.
 */
export function parameterList(
  ts: TypeScript,
  fn: (...args: never[]) => unknown,
): { names: string[]; rest: boolean } | undefined {
  const params = parametersOf(ts, Function.prototype.toString.call(fn));
  if (!params) return undefined;
  const names = params.map((param) => {
    const name = param.name.getText().replace(/\s+/g, " ");
    return name.length > 24 ? `${name.slice(0, 21)}...` : name;
  });
  return { names, rest: params.at(-1)?.dotDotDotToken !== undefined };
}

/**
 * The parameters of a function from its source text (`fn.toString()`): a function or arrow
 * expression, or a method (`name(a, b) { ... }`), parsed as one.
 */
export function parametersOf(ts: TypeScript, source: string): readonly TS.ParameterDeclaration[] | undefined {
  for (const [text, unwrap] of [
    [`(${source})`, (node: TS.Expression) => node],
    [`({ ${source} })`, (node: TS.Expression) => (node as TS.ObjectLiteralExpression).properties?.[0]],
  ] as const) {
    const file = ts.createSourceFile("flow.js", text, ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
    const statement = file.statements[0];
    if (file.statements.length !== 1 || !statement || !ts.isExpressionStatement(statement)) continue;
    if ((file as unknown as { parseDiagnostics: unknown[] }).parseDiagnostics?.length) continue;
    let node: TS.Node | undefined = statement.expression;
    while (node && ts.isParenthesizedExpression(node)) node = node.expression;
    node = node && unwrap(node as TS.Expression);
    if (node && ts.isFunctionLike(node)) return node.parameters;
  }
  return undefined;
}
