import { setTimeout as wait } from "node:timers/promises";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

/** Which requests an emulator fails, and how. */
export interface FaultOptions {
  /** The share of requests to fail, from 0 to 1: 0.2 fails every fifth. @default 0 */
  readonly rate?: number;
  /** The statuses to answer, in turn. @default [500, 503] */
  readonly statuses?: readonly number[];
  /**
   * The share of requests, from 0 to 1, refused as throttled before they touch any state: SQS
   * answers 400 `RequestThrottled`, S3 503 `SlowDown`, which the SDK retries with a longer backoff.
   * @default 0
   */
  readonly throttle?: number;
  /**
   * The share of requests, from 0 to 1, served (the send enqueued, the object written) whose answer
   * is then lost: the client gets a 500 or a dropped connection, in turn, and cannot tell whether
   * the request took effect. @default 0
   */
  readonly loseResponses?: number;
  /**
   * Which requests `rate`, `throttle` and `loseResponses` apply to: SQS actions by name
   * (`SendMessageBatch`), S3 requests as `S3:` and the method (`S3:PUT`). @default every request
   */
  readonly actions?: readonly string[];
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
 * A layer in front of the emulator's handlers that fails a steady share of requests as AWS does
 * when it is overloaded: 500 or 503 (`rate`), or throttling (`throttle`), shaped as S3 (XML) or
 * SQS (JSON) send them, before the request touches any state; or, after serving a request, loses
 * its answer (`loseResponses`). Failures are spread evenly (every n-th request of each kind), so
 * a test sees the same pattern each run.
 *
 * @internal Fastify is fauxqs's, an optional peer: the build leaves this out of the published
 * declarations (stripInternal), so that squall/aws type-checks where fauxqs is not installed.
 */
export function installFaults(app: FastifyInstance): FaultSwitch {
  let options: FaultOptions | undefined;
  let failures = everyNth(0);
  let throttles = everyNth(0);
  let losses = everyNth(0);
  let injected = 0;
  let turn = 0; // which of the statuses answers next, from the first with each setting
  let lossTurn = 0; // a 500 or a dropped connection, in turn
  const outside = (request: FastifyRequest) =>
    !options ||
    request.headers[REPLAYED] !== undefined ||
    request.headers[INTERNAL_HEADER] !== undefined ||
    (options.actions !== undefined && !options.actions.includes(actionOf(request)));
  app.addHook("onRequest", async (request, reply) => {
    if (outside(request)) return;
    const sqs = request.headers["x-amz-target"] !== undefined;
    if (throttles()) {
      injected += 1;
      const message = "Rate exceeded (injected)";
      if (sqs) return sqsError(reply, 400, "RequestThrottled", message);
      return s3Error(reply, 503, "SlowDown", "Please reduce your request rate. (injected)");
    }
    if (!failures()) return;
    const statuses = options?.statuses ?? [500, 503];
    const status = statuses[turn++ % statuses.length] ?? 500;
    injected += 1;
    const code = status === 503 ? "ServiceUnavailable" : "InternalError";
    const message = "We encountered an internal error. Please try again. (injected)";
    return sqs ? sqsError(reply, status, code, message) : s3Error(reply, status, code, message);
  });
  // After the handler has served the request: its answer is lost on the way back.
  app.addHook("onSend", async (request, reply, payload) => {
    if (!options?.loseResponses || outside(request)) return payload;
    if (reply.statusCode >= 300 || !losses()) return payload;
    injected += 1;
    if (lossTurn++ % 2 === 1) {
      request.raw.socket?.destroy();
      return payload;
    }
    const message = "We encountered an internal error. Please try again. (injected after serving)";
    reply.code(500);
    if (request.headers["x-amz-target"] !== undefined) {
      reply.header("content-type", "application/x-amz-json-1.0");
      return JSON.stringify({ __type: "InternalError", message });
    }
    reply.header("content-type", "application/xml");
    return s3ErrorXml("InternalError", message);
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
      for (const [name, rate] of [
        ["rate", next?.rate],
        ["throttle", next?.throttle],
        ["loseResponses", next?.loseResponses],
      ] as const) {
        if (rate !== undefined && (typeof rate !== "number" || !(rate >= 0 && rate <= 1))) {
          throw new RangeError(`Expected \`${name}\` to be a number from 0 to 1, got \`${String(rate)}\``);
        }
      }
      options = next;
      failures = everyNth(next?.rate ?? 0);
      throttles = everyNth(next?.throttle ?? 0);
      losses = everyNth(next?.loseResponses ?? 0);
      turn = 0;
      lossTurn = 0;
    },
    get injected() {
      return injected;
    },
  };
}

/** Counts calls and says yes to a steady `rate` of them, evenly spread: 0.25 says yes to every fourth. */
function everyNth(rate: number): () => boolean {
  let seen = 0;
  return () => {
    if (rate <= 0) return false;
    seen += 1;
    return Math.floor(seen * rate) !== Math.floor((seen - 1) * rate);
  };
}

/** A request's action, as `actions` names it. */
function actionOf(request: FastifyRequest): string {
  const target = request.headers["x-amz-target"];
  if (typeof target === "string") return target.replace(/^AmazonSQS\./, "");
  return `S3:${request.method}`;
}

function sqsError(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply
    .code(status)
    .header("content-type", "application/x-amz-json-1.0")
    .send(JSON.stringify({ __type: code, message }));
}

function s3Error(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply.code(status).header("content-type", "application/xml").send(s3ErrorXml(code, message));
}

function s3ErrorXml(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`;
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
