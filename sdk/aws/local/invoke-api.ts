import { randomUUID } from "node:crypto";
import type { FastifyInstance } from "fastify";

/** How one invocation of a local function ended: its result, or the error it threw. */
export type InvocationOutcome =
  | { readonly ok: true; readonly result: unknown }
  | {
      readonly ok: false;
      readonly errorType: string;
      readonly errorMessage: string;
      readonly stackTrace: string[];
    };

/** A function the local environment can invoke, by name. */
export type LocalFunction = (payload: unknown) => Promise<InvocationOutcome>;

/**
 * Serves Lambda's Invoke API (`POST /2015-03-31/functions/<name>/invocations`) for the
 * functions in `functions`, as AWS answers it: `RequestResponse` waits and answers the result
 * (a function that threw answers 200 with `X-Amz-Function-Error: Unhandled` and the error),
 * `Event` answers 202 at once, `DryRun` 204; an unknown function is a 404
 * ResourceNotFoundException. So `@aws-sdk/client-lambda` and `aws lambda invoke --endpoint-url`
 * start flows on the local environment exactly as on AWS.
 *
 * @internal Fastify is fauxqs's, an optional peer: the build leaves this out of the published
 * declarations (stripInternal), so that squall/aws type-checks where fauxqs is not installed.
 */
export function serveInvokeApi(app: FastifyInstance, functions: ReadonlyMap<string, LocalFunction>): void {
  app.post("/2015-03-31/functions/:name/invocations", async (request, reply) => {
    const { name } = request.params as { name: string };
    const fn = functions.get(decodeURIComponent(name).split(":").pop() ?? name);
    const requestId = randomUUID();
    reply.header("x-amzn-requestid", requestId);
    if (!fn) {
      return reply
        .code(404)
        .header("x-amzn-errortype", "ResourceNotFoundException")
        .header("content-type", "application/json")
        .send(JSON.stringify({ Type: "User", message: `Function not found: ${name}` }));
    }
    let payload: unknown;
    try {
      payload = parseBody(request.body);
    } catch {
      return reply
        .code(400)
        .header("x-amzn-errortype", "InvalidRequestContentException")
        .header("content-type", "application/json")
        .send(JSON.stringify({ Type: "User", message: "Could not parse request body into json" }));
    }
    const type = String(request.headers["x-amz-invocation-type"] ?? "RequestResponse");
    if (type === "DryRun") return reply.code(204).send();
    if (type === "Event") {
      void fn(payload); // its outcome is the function's own business, as in Lambda
      return reply.code(202).send();
    }
    const outcome = await fn(payload);
    reply.header("x-amz-executed-version", "$LATEST").header("content-type", "application/json");
    if (outcome.ok) return reply.code(200).send(JSON.stringify(outcome.result ?? null));
    const { errorType, errorMessage, stackTrace } = outcome;
    return reply
      .code(200)
      .header("x-amz-function-error", "Unhandled")
      .send(JSON.stringify({ errorType, errorMessage, trace: stackTrace }));
  });
}

function parseBody(body: unknown): unknown {
  if (body === undefined || body === null || body === "") return {};
  if (Buffer.isBuffer(body)) return body.length === 0 ? {} : JSON.parse(body.toString("utf8"));
  if (typeof body === "string") return JSON.parse(body);
  return body;
}
