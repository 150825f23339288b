import type { FastifyInstance } from "fastify";

/** Which requests an emulator answers with a server error instead of serving them. */
export interface FaultOptions {
  /** The share of requests to fail, from 0 to 1: 0.2 fails every fifth. */
  readonly rate: number;
  /** The statuses to answer, in turn. @default [500, 503] */
  readonly statuses?: readonly number[];
}

export interface FaultSwitch {
  /** Starts failing requests as `options` says; `undefined` stops. */
  set(options: FaultOptions | undefined): void;
  /** How many requests were failed so far. */
  readonly injected: number;
}

/**
 * A layer in front of the emulator's handlers that answers a steady share of requests with
 * 500 or 503, shaped as S3 (XML) or SQS (JSON) send them, before the request touches any
 * state: what AWS does when it is overloaded. Failures are spread evenly (every n-th request),
 * so a test sees the same pattern each run.
 */
export function installFaults(app: FastifyInstance): FaultSwitch {
  let options: FaultOptions | undefined;
  let seen = 0;
  let injected = 0;
  app.addHook("onRequest", async (request, reply) => {
    if (!options || options.rate <= 0) return;
    seen += 1;
    if (Math.floor(seen * options.rate) === Math.floor((seen - 1) * options.rate)) return;
    const statuses = options.statuses ?? [500, 503];
    const status = statuses[injected % statuses.length] ?? 500;
    injected += 1;
    const code = status === 503 ? "ServiceUnavailable" : "InternalError";
    const message = "We encountered an internal error. Please try again. (injected)";
    if (request.headers["x-amz-target"] !== undefined) {
      return reply
        .code(status)
        .header("content-type", "application/x-amz-json-1.0")
        .send(JSON.stringify({ __type: code, message }));
    }
    return reply
      .code(status)
      .header("content-type", "application/xml")
      .send(
        `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`,
      );
  });
  return {
    set(next) {
      if (next !== undefined && (typeof next.rate !== "number" || !(next.rate >= 0 && next.rate <= 1))) {
        throw new RangeError(`Expected \`rate\` to be a number from 0 to 1, got \`${String(next?.rate)}\``);
      }
      options = next;
      seen = 0;
    },
    get injected() {
      return injected;
    },
  };
}
