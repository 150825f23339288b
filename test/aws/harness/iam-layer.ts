// IAM in front of the emulator: every request is checked against the policies of whoever signed
// it (found by its access key), and answered 403 as the service answers it when a policy does
// not allow it. S3's rule for reads of missing keys holds too: without s3:ListBucket on the
// bucket, a GET or HEAD of a key that does not exist is answered 403, not 404, so that the
// caller cannot learn which keys exist. Every denial is recorded, naming who, what and why.
import type { FastifyInstance, FastifyRequest } from "fastify";
import { type AwsError, renderAwsError, sendAwsError } from "./aws-errors.js";
import type { AwsCall, Service } from "./aws-request.js";
import { decide } from "./iam-policy.js";
import type { Principal, Principals } from "./principals.js";

export interface Denial {
  /** Who was denied: a function's logical id, `caller <name>`, or the access key when unknown. */
  readonly principal: string;
  readonly operation: string;
  readonly action: string;
  readonly resource: string;
  readonly why: string;
}

export interface IamLayerOptions {
  readonly principals: Principals;
  readonly callOf: (request: FastifyRequest) => AwsCall;
  /** Requests the emulator makes of itself, or that another layer already let through. */
  readonly passes: (request: FastifyRequest) => boolean;
  readonly enabled: () => boolean;
  readonly onDenial: (denial: Denial) => void;
}

export function installIam(app: FastifyInstance, options: IamLayerOptions): void {
  const { principals, callOf, passes, enabled, onDenial } = options;
  const checked = new WeakSet<FastifyRequest>();

  app.addHook("preHandler", async (request, reply) => {
    if (!enabled() || passes(request)) return;
    const call = callOf(request);
    checked.add(request);
    if (call.service === "sts") return; // GetCallerIdentity needs no permission
    const head = request.method === "HEAD";
    const principal = principals.byKey(call.accessKeyId);
    if (!principal) {
      onDenial({
        principal: call.accessKeyId ?? "anonymous",
        operation: call.operation,
        action: call.checks[0]?.action ?? "-",
        resource: call.checks[0]?.resource ?? "-",
        why: call.accessKeyId ? "unknown access key" : "unsigned request",
      });
      return sendAwsError(reply, call.service, unknownKey(call.service), head);
    }
    if (principal.statements === "all") return;
    for (const check of call.checks) {
      const decision = decide(principal.statements, check.action, check.resource);
      if (decision.allowed) continue;
      onDenial({ principal: principal.name, operation: call.operation, ...check, why: decision.why });
      return sendAwsError(
        reply,
        call.service,
        accessDenied(call.service, principal, check, decision.why),
        head,
      );
    }
  });

  app.addHook("onSend", async (request, reply, payload) => {
    if (!checked.has(request) || reply.statusCode !== 404) return payload;
    const call = callOf(request);
    if (call.service !== "s3" || (call.operation !== "GetObject" && call.operation !== "HeadObject"))
      return payload;
    const principal = principals.byKey(call.accessKeyId);
    if (!principal || principal.statements === "all") return payload;
    const list = { action: "s3:ListBucket", resource: `arn:aws:s3:::${call.bucket}` };
    const decision = decide(principal.statements, list.action, list.resource);
    if (decision.allowed) return payload;
    onDenial({
      principal: principal.name,
      operation: call.operation,
      ...list,
      why: `${decision.why}: a ${call.operation} of the missing key ${call.key} is answered 403 instead of 404 without it`,
    });
    const { headers, body } = renderAwsError("s3", accessDenied("s3", principal, list, decision.why));
    reply.code(403).removeHeader("content-length");
    for (const [name, value] of Object.entries(headers)) reply.header(name, value);
    return request.method === "HEAD" ? "" : body;
  });
}

/** One line per denial, for test failures: who, what, on what, and why. */
export function describeDenials(denials: readonly Denial[]): string {
  if (denials.length === 0) return "no request was denied";
  const lines = new Map<string, number>();
  for (const d of denials) {
    const line = `${d.principal}: ${d.action} on ${d.resource} (${d.operation}) denied: ${d.why}`;
    lines.set(line, (lines.get(line) ?? 0) + 1);
  }
  return [...lines].map(([line, n]) => (n > 1 ? `${line} [x${n}]` : line)).join("\n");
}

function accessDenied(
  service: Service,
  principal: Principal,
  check: { action: string; resource: string },
  why: string,
): AwsError {
  const reason =
    why === "explicit deny"
      ? "with an explicit deny in an identity-based policy"
      : `because no identity-based policy allows the ${check.action} action`;
  const message = `User: ${principal.arn} is not authorized to perform: ${check.action} on resource: "${check.resource}" ${reason}`;
  switch (service) {
    case "sqs":
      return {
        status: 403,
        code: "AccessDeniedException",
        namespace: "com.amazon.coral.service",
        queryCode: "AccessDenied",
        message,
      };
    case "lambda":
      return { status: 403, code: "AccessDeniedException", message };
    default:
      return { status: 403, code: "AccessDenied", message };
  }
}

function unknownKey(service: Service): AwsError {
  switch (service) {
    case "s3":
      return {
        status: 403,
        code: "InvalidAccessKeyId",
        message: "The AWS Access Key Id you provided does not exist in our records.",
      };
    case "lambda":
      return {
        status: 403,
        code: "UnrecognizedClientException",
        message: "The security token included in the request is invalid.",
      };
    default:
      return {
        status: 403,
        code: "InvalidClientTokenId",
        namespace: "com.amazon.coral.service",
        message: "The security token included in the request is invalid.",
      };
  }
}
