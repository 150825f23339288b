import { setTimeout as wait } from "node:timers/promises";
import type { FastifyInstance } from "fastify";

/** Which requests an emulator answers with a server error instead of serving them. */
export interface FaultOptions {
  /** The share of requests to fail, from 0 to 1: 0.2 fails every fifth. @default 0 */
  readonly rate?: number;
  /** The statuses to answer, in turn. @default [500, 503] */
  readonly statuses?: readonly number[];
  /**
   * Enqueue every message sent to SQS twice, as at-least-once delivery allows.
   * @default false
   */
  readonly duplicateMessages?: boolean;
  /**
   * Holds back the SQS sends carrying a message body that `when` picks, `ms` before serving
   * them, as a slow network or a paused sender may: later sends can overtake them.
   */
  readonly delaySends?: { readonly when: (body: string) => boolean; readonly ms: number };
}

/** Marks a request this layer sent itself, so that it passes through untouched. */
const REPLAYED = "x-squall-replayed";
/** Marks a request the emulator makes of itself (a step of a conditional write): never failed. */
export const INTERNAL_HEADER = "x-squall-internal";

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
 *
 * @internal Fastify is fauxqs's, an optional peer: the build leaves this out of the published
 * declarations (stripInternal), so that squall/aws type-checks where fauxqs is not installed.
 */
export function installFaults(app: FastifyInstance): FaultSwitch {
  let options: FaultOptions | undefined;
  let seen = 0;
  let injected = 0;
  let turn = 0; // which of the statuses answers next, from the first with each setting
  app.addHook("onRequest", async (request, reply) => {
    const rate = options?.rate ?? 0;
    if (!options || rate <= 0 || request.headers[REPLAYED] !== undefined) return;
    if (request.headers[INTERNAL_HEADER] !== undefined) return;
    seen += 1;
    if (Math.floor(seen * rate) === Math.floor((seen - 1) * rate)) return;
    const statuses = options.statuses ?? [500, 503];
    const status = statuses[turn++ % statuses.length] ?? 500;
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
  app.addHook("preHandler", async (request) => {
    const delay = options?.delaySends;
    if (!delay || request.headers[REPLAYED] !== undefined || !isSend(request.headers)) return;
    if (messageBodies(request.body).some(delay.when)) await wait(delay.ms);
  });
  // A send is served twice: once replayed here, then as itself.
  app.addHook("preHandler", async (request) => {
    if (!options?.duplicateMessages || request.headers[REPLAYED] !== undefined) return;
    if (!isSend(request.headers)) return;
    const headers = { ...request.headers, [REPLAYED]: "1" };
    delete headers["content-length"];
    await app.inject({
      method: "POST",
      url: request.url,
      headers: headers as unknown as Record<string, string>,
      payload: typeof request.body === "string" ? request.body : JSON.stringify(request.body),
    });
  });
  return {
    set(next) {
      const rate = next?.rate ?? 0;
      if (next !== undefined && (typeof rate !== "number" || !(rate >= 0 && rate <= 1))) {
        throw new RangeError(`Expected \`rate\` to be a number from 0 to 1, got \`${String(rate)}\``);
      }
      options = next;
      seen = 0;
      turn = 0;
    },
    get injected() {
      return injected;
    },
  };
}

function isSend(headers: Record<string, unknown>): boolean {
  const target = String(headers["x-amz-target"] ?? "");
  return target === "AmazonSQS.SendMessage" || target === "AmazonSQS.SendMessageBatch";
}

/** The message bodies an SQS send (one message or a batch) carries. */
function messageBodies(body: unknown): string[] {
  let request = body as { MessageBody?: unknown; Entries?: { MessageBody?: unknown }[] } | undefined;
  if (typeof body === "string") {
    try {
      request = JSON.parse(body);
    } catch {
      return [];
    }
  }
  const bodies = request?.Entries?.map((entry) => entry?.MessageBody) ?? [request?.MessageBody];
  return bodies.filter((text): text is string => typeof text === "string");
}
