// Who signs requests to the harness: each function's execution role, a laptop caller, and the
// harness itself. Each gets an access key of its own; the IAM layer finds the policies to apply
// by that key. A role's policies are those the template attaches to it; the caller's are the
// template's managed policy named SquallCaller when there is one, else a policy the test gives.
import { randomBytes } from "node:crypto";
import { type ResolvedStatement, resolvedStatement } from "./iam-policy.js";
import { type ResolveContext, resolve } from "./intrinsics.js";
import type { PolicyStatement, StackTemplate } from "./template.js";

export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface Principal {
  /** For reports: the function's logical id, `caller <name>`, or `harness`. */
  readonly name: string;
  readonly arn: string;
  readonly credentials: Credentials;
  /** What it may do; `all` for the harness's own requests. */
  readonly statements: readonly ResolvedStatement[] | "all";
}

/** A policy document as a test writes one. */
export interface PolicyDocument {
  readonly Version?: string;
  readonly Statement: readonly PolicyStatement[];
}

/** Temporary credentials, as Lambda gives a function's role (ASIA keys with a session token). */
export function newCredentials(prefix = "ASIA"): Credentials {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  const key = [...randomBytes(16)].map((byte) => alphabet[byte % alphabet.length]).join("");
  return {
    accessKeyId: `${prefix}${key}`,
    secretAccessKey: randomBytes(30).toString("base64"),
    ...(prefix === "ASIA" && { sessionToken: randomBytes(48).toString("base64") }),
  };
}

export class Principals {
  readonly #byKey = new Map<string, Principal>();

  add(principal: Principal): Principal {
    this.#byKey.set(principal.credentials.accessKeyId, principal);
    return principal;
  }

  byKey(accessKeyId: string | undefined): Principal | undefined {
    return accessKeyId === undefined ? undefined : this.#byKey.get(accessKeyId);
  }
}

/** Every statement of every policy the template attaches to the role. */
export function roleStatements(
  stack: StackTemplate,
  roleLogicalId: string,
  context: ResolveContext,
): ResolvedStatement[] {
  return stack.policies
    .filter((policy) => policy.roles.includes(roleLogicalId))
    .flatMap((policy) =>
      policy.statements.map((statement) =>
        resolvedStatement(resolve(statement, context) as PolicyStatement, policy.logicalId),
      ),
    );
}

/** The caller's policy: the template's SquallCaller managed policy, else the one the test gives. */
export function callerStatements(
  stack: StackTemplate,
  context: ResolveContext,
  fallback: PolicyDocument | undefined,
): { statements: ResolvedStatement[]; source: string } {
  const managed = stack.policies.find(
    (policy) =>
      policy.type === "AWS::IAM::ManagedPolicy" &&
      (String(resolve(policy.name ?? "", context)).endsWith("SquallCaller") ||
        (policy.name === undefined && /^(Squall)?SquallCaller/.test(policy.logicalId))),
  );
  if (managed) {
    return {
      statements: managed.statements.map((statement) =>
        resolvedStatement(resolve(statement, context) as PolicyStatement, managed.logicalId),
      ),
      source: `the template's managed policy ${managed.logicalId}`,
    };
  }
  if (!fallback) {
    throw new Error("The template has no SquallCaller managed policy: give the harness a callerPolicy.");
  }
  return {
    statements: policyStatements(fallback, context, "the test's caller policy"),
    source: "the test's caller policy (the template has no SquallCaller managed policy)",
  };
}

/** A test's policy document, its references to the template's resources resolved. */
export function policyStatements(
  document: PolicyDocument,
  context: ResolveContext,
  name: string,
): ResolvedStatement[] {
  return document.Statement.map((statement) =>
    resolvedStatement(resolve(statement, context) as PolicyStatement, name),
  );
}
