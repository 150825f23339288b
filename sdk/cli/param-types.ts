import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type * as TS from "typescript";
import type { TypeScript } from "./compiler.js";
import { parametersOf } from "./params.js";
import { UsageError } from "./usage-error.js";

/**
 * Checks `--params` against the types a flow's parameters declare in its TypeScript source, so
 * that a value that does not fit stops the command (exit 2) before anything runs, with the
 * parameter and the type it expects named.
 *
 * The types are read from the source as written, without type-checking the program (which would
 * take seconds): keywords (`string`, `number`, `boolean`, `null`, `unknown`, ...), literal types,
 * unions, intersections, arrays, tuples, object types, `Array<T>`, `ReadonlyArray<T>`,
 * `Record<K, V>`, and the type aliases and interfaces the same file declares. What it cannot tell
 * from the source (a type imported from elsewhere, a generic, a conditional type) is taken as
 * fitting: a wrong value there fails in the flow, as it would without the check.
 */
export function checkParamTypes(
  ts: TypeScript,
  file: string,
  flowName: string,
  fn: (...args: never[]) => unknown,
  args: readonly unknown[],
): void {
  const declared = declaredFlow(ts, resolve(file), flowName, fn);
  if (!declared) return;
  const checker = new ShapeChecker(ts, declared.file);
  const params = declared.fn.parameters;
  for (const [index, param] of params.entries()) {
    const name = param.name.getText(declared.file).replace(/\s+/g, " ");
    let misfit: Misfit | undefined;
    if (param.dotDotDotToken) {
      const element = param.type && checker.elementType(param.type);
      for (let i = index; i < args.length && element && !misfit; i++) {
        misfit = checker.check(args[i], element, `${name}[${i - index}]`);
      }
    } else if (index < args.length) {
      misfit = param.type && checker.check(args[index], param.type, name);
    }
    if (misfit) {
      const line = declared.file.getLineAndCharacterOfPosition(param.getStart(declared.file)).line + 1;
      throw new UsageError(
        `--params does not fit flow '${flowName}': ${misfit.path} (argument ${index + 1}) must be ${misfit.expected}, got ${shown(misfit.got)}, as declared at ${file}:${line}.`,
      );
    }
  }
}

interface Misfit {
  readonly path: string;
  readonly expected: string;
  readonly got: unknown;
}

const MISSING = Symbol("missing");

/** A value as the message shows it: JSON, cut to 60 characters. */
function shown(value: unknown): string {
  if (value === MISSING) return "nothing";
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/**
 * The flow's function in its module's source: the one function given to a `flow(...)` call (the
 * `flow` squall exports, by whatever name it was imported) that the flow's name designates, by
 * `options.name` or its own name, and whose parameters are named as the running function's.
 */
function declaredFlow(
  ts: TypeScript,
  path: string,
  flowName: string,
  fn: (...args: never[]) => unknown,
): { file: TS.SourceFile; fn: TS.SignatureDeclaration } | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
  const kind = /\.[cm]?tsx$/.test(path) ? ts.ScriptKind.TSX : ts.ScriptKind.TS;
  const file = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true, kind);
  const flowCallees = new Set(["flow"]);
  const namespaces = new Set<string>();
  for (const statement of file.statements) {
    if (!ts.isImportDeclaration(statement)) continue;
    const bindings = statement.importClause?.namedBindings;
    if (bindings && ts.isNamedImports(bindings)) {
      for (const element of bindings.elements) {
        if ((element.propertyName ?? element.name).text === "flow") flowCallees.add(element.name.text);
      }
    } else if (bindings && ts.isNamespaceImport(bindings)) namespaces.add(bindings.name.text);
  }
  const found: TS.SignatureDeclaration[] = [];
  const visit = (node: TS.Node): void => {
    if (ts.isCallExpression(node) && isFlowCallee(node.expression)) {
      const [first, second] = node.arguments;
      const fnNode = second ?? first;
      const options = second ? first : undefined;
      if (fnNode && (ts.isFunctionExpression(fnNode) || ts.isArrowFunction(fnNode))) {
        const named = options && ts.isObjectLiteralExpression(options) ? nameOption(options) : undefined;
        const own = ts.isFunctionExpression(fnNode) ? fnNode.name?.text : undefined;
        if ((named ?? own) === flowName) found.push(fnNode);
      }
    }
    ts.forEachChild(node, visit);
  };
  const isFlowCallee = (callee: TS.Expression): boolean =>
    (ts.isIdentifier(callee) && flowCallees.has(callee.text)) ||
    (ts.isPropertyAccessExpression(callee) &&
      callee.name.text === "flow" &&
      ts.isIdentifier(callee.expression) &&
      namespaces.has(callee.expression.text));
  const nameOption = (options: TS.ObjectLiteralExpression): string | undefined => {
    for (const property of options.properties) {
      if (
        ts.isPropertyAssignment(property) &&
        property.name.getText(file).replace(/^["']|["']$/g, "") === "name" &&
        ts.isStringLiteralLike(property.initializer)
      ) {
        return property.initializer.text;
      }
    }
    return undefined;
  };
  visit(file);
  // One declaration, and the function that runs: else the source says nothing certain.
  const [only] = found;
  if (found.length !== 1 || !only) return undefined;
  const declaredNames = only.parameters.map((param) => param.name.getText(file).replace(/\s+/g, ""));
  const running = parametersOf(ts, Function.prototype.toString.call(fn));
  const runningNames = running?.map((param) => param.name.getText().replace(/\s+/g, ""));
  if (runningNames?.join(",") !== declaredNames.join(",")) return undefined;
  return { file, fn: only };
}

/** Checks JSON values against type nodes of one source file. */
class ShapeChecker {
  readonly #ts: TypeScript;
  readonly #file: TS.SourceFile;
  readonly #declarations = new Map<string, TS.TypeAliasDeclaration | TS.InterfaceDeclaration>();
  #depth = 0;

  constructor(ts: TypeScript, file: TS.SourceFile) {
    this.#ts = ts;
    this.#file = file;
    const visit = (node: TS.Node): void => {
      if ((ts.isTypeAliasDeclaration(node) || ts.isInterfaceDeclaration(node)) && !node.typeParameters) {
        // Two declarations of one name (in different scopes, or an interface merged): unknown.
        if (this.#declarations.has(node.name.text)) this.#declarations.delete(node.name.text);
        else this.#declarations.set(node.name.text, node);
      }
      ts.forEachChild(node, visit);
    };
    visit(file);
  }

  /** The type of the elements of an array type (a rest parameter's), if it is one. */
  elementType(type: TS.TypeNode): TS.TypeNode | undefined {
    const ts = this.#ts;
    const node = this.#unwrap(type);
    if (ts.isArrayTypeNode(node)) return node.elementType;
    if (ts.isTypeReferenceNode(node) && /^(Readonly)?Array$/.test(node.typeName.getText(this.#file))) {
      return node.typeArguments?.[0];
    }
    return undefined;
  }

  /** Where `value` does not fit `type`, or `undefined` when it does (or cannot be told). */
  check(value: unknown, type: TS.TypeNode, path: string): Misfit | undefined {
    if (this.#depth > 50) return undefined;
    this.#depth++;
    try {
      return this.#check(value, type, path);
    } finally {
      this.#depth--;
    }
  }

  #check(value: unknown, type: TS.TypeNode, path: string): Misfit | undefined {
    const ts = this.#ts;
    const node = this.#unwrap(type);
    const misfit = (): Misfit => ({ path, expected: this.#text(node), got: value });
    const fits = (ok: boolean) => (ok ? undefined : misfit());
    switch (node.kind) {
      case ts.SyntaxKind.AnyKeyword:
      case ts.SyntaxKind.UnknownKeyword:
        return undefined;
      case ts.SyntaxKind.StringKeyword:
        return fits(typeof value === "string");
      case ts.SyntaxKind.NumberKeyword:
        return fits(typeof value === "number");
      case ts.SyntaxKind.BooleanKeyword:
        return fits(typeof value === "boolean");
      case ts.SyntaxKind.UndefinedKeyword:
      case ts.SyntaxKind.VoidKeyword:
        return fits(value === undefined || value === MISSING);
      case ts.SyntaxKind.ObjectKeyword:
        return fits(typeof value === "object" && value !== null);
      case ts.SyntaxKind.NullKeyword:
        return fits(value === null);
      case ts.SyntaxKind.NeverKeyword:
      case ts.SyntaxKind.BigIntKeyword:
      case ts.SyntaxKind.SymbolKeyword:
        return misfit();
    }
    if (ts.isLiteralTypeNode(node)) return fits(this.#literalFits(value, node.literal));
    if (ts.isUnionTypeNode(node)) {
      const misfits = node.types.map((member) => this.check(value, member, path));
      if (misfits.some((one) => one === undefined)) return undefined;
      // One member of the value's kind (an object, an array) says best what is wrong inside it.
      const inside = misfits.filter((one) => one !== undefined && one.path !== path);
      return inside.length === 1 ? inside[0] : misfit();
    }
    if (ts.isIntersectionTypeNode(node)) {
      for (const member of node.types) {
        const found = this.check(value, member, path);
        if (found) return found;
      }
      return undefined;
    }
    if (ts.isArrayTypeNode(node)) return this.#checkArray(value, node.elementType, path, misfit);
    if (ts.isTupleTypeNode(node)) return this.#checkTuple(value, node, path, misfit);
    if (ts.isTypeLiteralNode(node)) return this.#checkMembers(value, node.members, path, misfit);
    if (ts.isFunctionTypeNode(node) || ts.isConstructorTypeNode(node)) return misfit();
    if (ts.isTypeReferenceNode(node)) return this.#checkReference(value, node, path, misfit);
    return undefined;
  }

  #checkReference(
    value: unknown,
    node: TS.TypeReferenceNode,
    path: string,
    misfit: () => Misfit,
  ): Misfit | undefined {
    const ts = this.#ts;
    const name = node.typeName.getText(this.#file);
    const [first, second] = node.typeArguments ?? [];
    if ((name === "Array" || name === "ReadonlyArray") && first) {
      return this.#checkArray(value, first, path, misfit);
    }
    if (name === "Record" && second) {
      if (typeof value !== "object" || value === null || Array.isArray(value)) return misfit();
      for (const [key, item] of Object.entries(value)) {
        const found = this.check(item, second, `${path}.${key}`);
        if (found) return found;
      }
      return undefined;
    }
    const declared = node.typeArguments ? undefined : this.#declarations.get(name);
    if (!declared) return undefined;
    if (ts.isTypeAliasDeclaration(declared)) return this.check(value, declared.type, path);
    // An interface that extends others has members this file may not show.
    if (declared.heritageClauses?.length) return undefined;
    return this.#checkMembers(value, declared.members, path, misfit);
  }

  #checkArray(value: unknown, element: TS.TypeNode, path: string, misfit: () => Misfit): Misfit | undefined {
    if (!Array.isArray(value)) return misfit();
    for (const [i, item] of value.entries()) {
      const found = this.check(item, element, `${path}[${i}]`);
      if (found) return found;
    }
    return undefined;
  }

  #checkTuple(
    value: unknown,
    node: TS.TupleTypeNode,
    path: string,
    misfit: () => Misfit,
  ): Misfit | undefined {
    const ts = this.#ts;
    if (!Array.isArray(value)) return misfit();
    let index = 0;
    for (const element of node.elements) {
      let type: TS.TypeNode = element;
      let optional = false;
      if (ts.isNamedTupleMember(element)) {
        type = element.type;
        optional = element.questionToken !== undefined;
        if (element.dotDotDotToken) return undefined;
      } else if (ts.isOptionalTypeNode(element)) {
        type = element.type;
        optional = true;
      } else if (ts.isRestTypeNode(element)) return undefined;
      if (index >= value.length) return optional ? undefined : misfit();
      const found = this.check(value[index], type, `${path}[${index}]`);
      if (found) return found;
      index++;
    }
    return value.length > index ? misfit() : undefined;
  }

  #checkMembers(
    value: unknown,
    members: TS.NodeArray<TS.TypeElement>,
    path: string,
    misfit: () => Misfit,
  ): Misfit | undefined {
    const ts = this.#ts;
    if (typeof value !== "object" || value === null || Array.isArray(value)) return misfit();
    const record = value as Record<string, unknown>;
    for (const member of members) {
      if (!ts.isPropertySignature(member) || !member.type) continue;
      if (!ts.isIdentifier(member.name) && !ts.isStringLiteral(member.name)) continue;
      const key = member.name.text;
      const present = Object.hasOwn(record, key);
      if (!present && member.questionToken) continue;
      const found = this.check(present ? record[key] : MISSING, member.type, `${path}.${key}`);
      if (found) return found;
    }
    return undefined;
  }

  #literalFits(value: unknown, literal: TS.LiteralTypeNode["literal"]): boolean {
    const ts = this.#ts;
    switch (literal.kind) {
      case ts.SyntaxKind.NullKeyword:
        return value === null;
      case ts.SyntaxKind.TrueKeyword:
        return value === true;
      case ts.SyntaxKind.FalseKeyword:
        return value === false;
      case ts.SyntaxKind.StringLiteral:
      case ts.SyntaxKind.NoSubstitutionTemplateLiteral:
        return value === (literal as TS.StringLiteral).text;
      case ts.SyntaxKind.NumericLiteral:
        return value === Number((literal as TS.NumericLiteral).text);
      case ts.SyntaxKind.PrefixUnaryExpression: {
        const { operator, operand } = literal as TS.PrefixUnaryExpression;
        return (
          operator === ts.SyntaxKind.MinusToken &&
          ts.isNumericLiteral(operand) &&
          value === -Number(operand.text)
        );
      }
      default:
        return true;
    }
  }

  /** Parentheses and `readonly` say nothing of a JSON value's shape. */
  #unwrap(type: TS.TypeNode): TS.TypeNode {
    const ts = this.#ts;
    let node = type;
    for (;;) {
      if (ts.isParenthesizedTypeNode(node)) node = node.type;
      else if (ts.isTypeOperatorNode(node) && node.operator === ts.SyntaxKind.ReadonlyKeyword)
        node = node.type;
      else return node;
    }
  }

  /** The type as the source writes it, on one line. */
  #text(node: TS.TypeNode): string {
    return node.getText(this.#file).replace(/\s+/g, " ");
  }
}
