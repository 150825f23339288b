// IAM's evaluation of identity-based policies, as far as squall's stack needs it: an explicit
// Deny wins, then an Allow, else the request is denied. Action and resource patterns take `*`
// and `?`; actions compare without regard to case, resources with it. Conditions are not
// evaluated: an Allow with a Condition never applies, so the harness errs towards denying.
import type { PolicyStatement } from "./template.js";

/** A policy's statements with every value resolved to strings. */
export interface ResolvedStatement {
  readonly effect: "Allow" | "Deny";
  readonly actions: readonly string[] | undefined;
  readonly notActions: readonly string[] | undefined;
  readonly resources: readonly string[] | undefined;
  readonly notResources: readonly string[] | undefined;
  readonly hasCondition: boolean;
  /** Which policy it came from, for reports. */
  readonly policy: string;
}

export type Decision =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly why: "explicit deny" | "no allow"; readonly policy?: string };

export function decide(statements: readonly ResolvedStatement[], action: string, resource: string): Decision {
  let allowed = false;
  for (const statement of statements) {
    if (!actionMatches(statement, action) || !resourceMatches(statement, resource)) continue;
    if (statement.effect === "Deny" && !statement.hasCondition) {
      return { allowed: false, why: "explicit deny", policy: statement.policy };
    }
    if (statement.effect === "Allow" && !statement.hasCondition) allowed = true;
  }
  return allowed ? { allowed: true } : { allowed: false, why: "no allow" };
}

/** A statement from a template (already resolved by intrinsics) in the form `decide` takes. */
export function resolvedStatement(statement: PolicyStatement, policy: string): ResolvedStatement {
  const list = (value: unknown) =>
    value === undefined ? undefined : (Array.isArray(value) ? value : [value]).map((item) => String(item));
  if (statement.Effect !== "Allow" && statement.Effect !== "Deny") {
    throw new Error(`${policy}: a statement with Effect ${JSON.stringify(statement.Effect)}`);
  }
  return {
    effect: statement.Effect,
    actions: list(statement.Action),
    notActions: list(statement.NotAction),
    resources: list(statement.Resource),
    notResources: list(statement.NotResource),
    hasCondition: statement.Condition !== undefined,
    policy,
  };
}

/** `*` any run of characters, `?` one; nothing else is special. */
export function wildcardMatches(pattern: string, value: string, ignoreCase = false): boolean {
  const source = pattern
    .split("")
    .map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.+^${}()|[\]\\]/g, "\\$&")))
    .join("");
  return new RegExp(`^${source}$`, ignoreCase ? "si" : "s").test(value);
}

function actionMatches(statement: ResolvedStatement, action: string): boolean {
  if (statement.actions) return statement.actions.some((pattern) => wildcardMatches(pattern, action, true));
  if (statement.notActions)
    return !statement.notActions.some((pattern) => wildcardMatches(pattern, action, true));
  return false;
}

function resourceMatches(statement: ResolvedStatement, resource: string): boolean {
  if (statement.resources) return statement.resources.some((pattern) => wildcardMatches(pattern, resource));
  if (statement.notResources)
    return !statement.notResources.some((pattern) => wildcardMatches(pattern, resource));
  return false;
}
