// Responses lost after the request took effect: the emulator has stored the object or queued the
// message, but the caller gets a 500 or a dropped connection, as when AWS applies a request and
// the answer does not make it back. The caller's SDK retries, and what it does next (a repeated
// send, a conditional write that now finds its own object) is what the test looks at.
import type { FastifyInstance, FastifyRequest } from "fastify";
import { renderAwsError } from "./aws-errors.js";
import type { AwsCall } from "./aws-request.js";

export interface LostResponseRule {
  /** Picks requests, e.g. `(call) => call.operation === "PutObject" && call.key?.includes("/log/")`. */
  readonly when: (call: AwsCall) => boolean;
  /** How many matching answers are lost. @default 1 */
  readonly times?: number;
  /** A 500 InternalError, or the connection closed with no answer. @default "500" */
  readonly as?: "500" | "drop";
}

export interface LostResponse {
  readonly operation: string;
  readonly as: "500" | "drop";
  readonly key?: string;
  readonly queueUrl?: string;
}

export class LostResponses {
  readonly events: LostResponse[] = [];
  readonly #rules: { rule: LostResponseRule; left: number }[] = [];

  add(rule: LostResponseRule): void {
    this.#rules.push({ rule, left: rule.times ?? 1 });
  }

  install(
    app: FastifyInstance,
    callOf: (request: FastifyRequest) => AwsCall,
    passes: (request: FastifyRequest) => boolean,
  ): void {
    app.addHook("onSend", async (request, reply, payload) => {
      if (this.#rules.length === 0 || passes(request) || reply.statusCode >= 300) return payload;
      const call = callOf(request);
      const match = this.#rules.find(({ rule, left }) => left > 0 && rule.when(call));
      if (!match) return payload;
      match.left -= 1;
      const as = match.rule.as ?? "500";
      this.events.push({
        operation: call.operation,
        as,
        ...(call.key && { key: call.key }),
        ...(call.queueUrl && { queueUrl: call.queueUrl }),
      });
      if (as === "drop") {
        request.raw.socket?.destroy();
        return payload;
      }
      const { headers, body } = renderAwsError(call.service, {
        status: 500,
        code: "InternalError",
        message: "We encountered an internal error. Please try again.",
      });
      reply.code(500).removeHeader("content-length").removeHeader("etag");
      for (const [name, value] of Object.entries(headers)) reply.header(name, value);
      return request.method === "HEAD" ? "" : body;
    });
  }
}
