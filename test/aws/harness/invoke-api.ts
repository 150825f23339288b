// Lambda's Invoke API on the emulator's endpoint, for the stack's functions: RequestResponse
// waits and answers the function's response, or its error with X-Amz-Function-Error; a response
// over 6 MB is answered as Lambda answers it, with the error Function.ResponseSizeTooLarge; Event
// answers 202 and hands the event to the function's asynchronous queue (retried on failure);
// DryRun answers 204. Requests over Lambda's payload limits are refused with 413.
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { AsyncInvoker } from "./async-invoker.js";
import { sendAwsError } from "./aws-errors.js";
import type { AwsCall } from "./aws-request.js";
import type { LambdaFunction } from "./lambda-function.js";

export interface PayloadLimits {
  /** A synchronous request, and a response: 6 MB as Lambda counts it. */
  readonly syncBytes?: number;
  /** An asynchronous (Event) request. */
  readonly asyncBytes?: number;
}

/** Lambda's "6 MB": 6,291,556 bytes, as its error messages say. */
export const LAMBDA_PAYLOAD_LIMITS: Required<PayloadLimits> = { syncBytes: 6_291_556, asyncBytes: 262_144 };

export interface InvokeApiOptions {
  readonly callOf: (request: FastifyRequest) => AwsCall;
  readonly passes: (request: FastifyRequest) => boolean;
  readonly functionNamed: (name: string) => { fn: LambdaFunction; async: AsyncInvoker } | undefined;
  readonly limits: () => PayloadLimits;
}

export function installInvokeApi(app: FastifyInstance, options: InvokeApiOptions): void {
  app.addHook("preHandler", async (request, reply) => {
    if (options.passes(request)) return;
    const call = options.callOf(request);
    if (call.service !== "lambda") return;
    if (call.operation !== "Invoke") {
      return sendAwsError(reply, "lambda", {
        status: 400,
        code: "InvalidRequestContentException",
        message: `The harness serves Lambda's Invoke only, not ${request.method} ${request.url}`,
      });
    }
    const target = options.functionNamed(call.functionName ?? "");
    if (!target) {
      return sendAwsError(reply, "lambda", {
        status: 404,
        code: "ResourceNotFoundException",
        message: `Function not found: ${call.checks[0]?.resource}`,
      });
    }
    const type = String(request.headers["x-amz-invocation-type"] ?? "RequestResponse");
    const payload = bytesOf(request.body);
    const limits = options.limits();
    const limit = type === "Event" ? limits.asyncBytes : limits.syncBytes;
    if (limit !== undefined && payload.length > limit) {
      return sendAwsError(reply, "lambda", {
        status: 413,
        code: "RequestTooLargeException",
        message: `Request must be smaller than ${limit} bytes for the InvokeFunction operation`,
      });
    }
    let event: unknown;
    try {
      event = payload.length === 0 ? {} : JSON.parse(payload.toString("utf8"));
    } catch (error) {
      return sendAwsError(reply, "lambda", {
        status: 400,
        code: "InvalidRequestContentException",
        message: `Could not parse request body into json: ${(error as Error).message}`,
      });
    }
    reply.header("x-amz-executed-version", "$LATEST");
    if (type === "DryRun") return reply.code(204).send();
    if (type === "Event") {
      target.async.enqueue(event);
      return reply.code(202).send();
    }
    const outcome = await target.fn.invoke(event, "RequestResponse");
    reply.header("x-amzn-requestid", outcome.requestId).header("content-type", "application/json");
    if (!outcome.ok) {
      const { errorType, errorMessage, trace } = outcome.error;
      return reply
        .code(200)
        .header("x-amz-function-error", "Unhandled")
        .send(JSON.stringify({ errorType, errorMessage, ...(trace && { trace }) }));
    }
    if (limits.syncBytes !== undefined && Buffer.byteLength(outcome.payload) > limits.syncBytes) {
      return reply
        .code(200)
        .header("x-amz-function-error", "Unhandled")
        .send(
          JSON.stringify({
            errorType: "Function.ResponseSizeTooLarge",
            errorMessage: `Response payload size exceeded maximum allowed payload size (${limits.syncBytes} bytes).`,
          }),
        );
    }
    return reply.code(200).send(outcome.payload);
  });
}

function bytesOf(body: unknown): Buffer {
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === "string") return Buffer.from(body, "utf8");
  if (body === undefined || body === null) return Buffer.alloc(0);
  return Buffer.from(JSON.stringify(body), "utf8");
}
