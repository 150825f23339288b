// Counting the AWS requests a benchmark makes, two ways.
//
// - countSdkRequests(): an AWS SDK middleware on every S3 and SQS client of this thread, by
//   command. The runner's clients are built inside squall, so the middleware is added the first
//   time each client sends. It sees this thread's requests only: the local environment's
//   function threads build their own clients, and nothing lets a bench add middleware there.
// - countEmulatorRequests(): every request the embedded emulator serves, from every thread, by
//   API, queue or kind of object, and whether the SDK middleware of this thread marked it. It
//   finds the emulator through Fastify's `fastify.initialization` diagnostics channel, so it
//   must be started before the emulator is.
import diagnostics from "node:diagnostics_channel";
import type { IncomingMessage } from "node:http";
import { S3Client } from "@aws-sdk/client-s3";
import type { FastifyInstance, FastifyRequest } from "fastify";

/** The header the SDK middleware puts on this thread's requests, so the emulator can tell them apart. */
const ORIGIN_HEADER = "x-squall-bench-origin";

/** An empty long poll that answered this close to its wait time waited it out. */
const WAITED_SLACK_MS = 50;

/** SQS bills each 64 KB chunk of a request's payload as one request. */
const SQS_CHUNK_BYTES = 64 * 1024;

/** Requests by `<service> <command>`, e.g. `SQS ReceiveMessage`. */
export type Tally = Map<string, number>;

export interface SdkRequestCounter {
  /** This thread's requests since the last `take()` (or since counting began). */
  take(): Tally;
  /** Stops counting; clients already marked keep a middleware that does nothing. */
  stop(): void;
}

interface MiddlewareArgs {
  readonly request: unknown;
}
interface Countable {
  readonly middlewareStack: {
    add(
      middleware: (
        next: (args: MiddlewareArgs) => Promise<unknown>,
        context: { readonly clientName?: string; readonly commandName?: string },
      ) => (args: MiddlewareArgs) => Promise<unknown>,
      options: { readonly step: "deserialize"; readonly priority: "low"; readonly name: string },
    ): void;
  };
}

/**
 * Counts every request of every AWS SDK client in this thread, with a middleware in the
 * `deserialize` step (so each attempt of a retried call counts, as AWS bills it). The
 * middleware is added to each client the first time it sends, through the base class every
 * AWS SDK v3 client shares.
 */
export function countSdkRequests(): SdkRequestCounter {
  const base = Object.getPrototypeOf(S3Client.prototype) as { send: (...args: unknown[]) => unknown };
  const send = base.send;
  const marked = new WeakSet<object>();
  let counts: Tally = new Map();
  let counting = true;
  base.send = function sendCounted(this: Countable, ...args: unknown[]) {
    if (!marked.has(this)) {
      marked.add(this);
      this.middlewareStack.add(
        (next, context) => async (middlewareArgs) => {
          if (counting) {
            const service = (context.clientName ?? "?").replace(/Client$/, "");
            const key = `${service} ${(context.commandName ?? "?").replace(/Command$/, "")}`;
            counts.set(key, (counts.get(key) ?? 0) + 1);
            const request = middlewareArgs.request as { headers?: Record<string, string> };
            if (request.headers) request.headers[ORIGIN_HEADER] = "caller";
          }
          return next(middlewareArgs);
        },
        { step: "deserialize", priority: "low", name: "squallBenchCountRequests" },
      );
    }
    return send.apply(this, args);
  };
  return {
    take() {
      const taken = counts;
      counts = new Map();
      return taken;
    },
    stop() {
      counting = false;
      base.send = send;
    },
  };
}

/** One kind of request the emulator served: who sent it, which API, on what. */
export interface ServedRequests {
  /** `caller`: marked by this thread's SDK middleware; `functions`: the function threads (unmarked). */
  readonly origin: "caller" | "functions";
  readonly service: "S3" | "SQS";
  readonly api: string;
  /** The queue (as named with `nameQueues`) or the kind of object. */
  readonly target: string;
  /** AWS's price class: S3 `put` (PUT, COPY, POST, LIST), `get` (GET, HEAD, others), `free` (DELETE); SQS `request`. */
  readonly priceClass: "put" | "get" | "free" | "request";
  requests: number;
  /** What AWS bills: one per S3 request; one per 64 KB chunk of payload for SQS. */
  billed: number;
  /** Messages sent (SendMessage*), received (ReceiveMessage) or deleted (DeleteMessage*). */
  messages: number;
  /** The bodies of the messages sent or received. */
  bytes: number;
  /** ReceiveMessage calls that returned nothing after waiting their whole WaitTimeSeconds: idle long polls. */
  emptyWaited: number;
  /**
   * ReceiveMessage calls that returned nothing before their wait was up: the emulator wakes every
   * waiting poller when a message arrives and the ones that lose the race answer empty, where SQS
   * would keep them waiting.
   */
  emptyWoken: number;
  /** ReceiveMessage calls without a wait (WaitTimeSeconds 0) that returned nothing. */
  emptyShort: number;
  /** Answers of 400 or more (a GET of a segment not written yet is a 404, billed all the same). */
  errors: number;
}

export interface EmulatorRequestCounter {
  /** Names queues by URL in what is counted, e.g. `{ [address.taskQueueUrl]: "task queue" }`. */
  nameQueues(names: Readonly<Record<string, string>>): void;
  /** What the emulator served since the last `take()` (or since counting began). */
  take(): ServedRequests[];
  stop(): void;
}

/**
 * Counts every request the next Fastify app created in this process serves over HTTP (the
 * embedded emulator's), from every thread. Requests the emulator makes to itself (its
 * conditional PUT reads and replays) are not HTTP requests and are not counted.
 */
export function countEmulatorRequests(): EmulatorRequestCounter {
  const overHttp = new WeakSet<IncomingMessage>();
  const received = new WeakMap<IncomingMessage, { messages: number; bytes: number }>();
  let server: unknown;
  let queueNames: Readonly<Record<string, string>> = {};
  let rows = new Map<string, ServedRequests>();
  let counting = true;

  const onHttpRequest = (message: unknown) => {
    const { request, server: from } = message as { request: IncomingMessage; server: unknown };
    if (from === server) overHttp.add(request);
  };
  const onFastify = (message: unknown) => {
    if (server !== undefined) return; // the first app only
    const app = (message as { fastify: FastifyInstance }).fastify;
    server = app.server;
    app.addHook("onSend", async (request, _reply, payload) => {
      if (counting && overHttp.has(request.raw) && sqsAction(request) === "ReceiveMessage") {
        received.set(request.raw, receivedMessages(payload));
      }
      return payload;
    });
    app.addHook("onResponse", async (request, reply) => {
      if (!counting || !overHttp.has(request.raw)) return;
      const served = describe(request, received.get(request.raw), queueNames);
      const { origin, service, api, target } = served.row;
      const key = `${origin}|${service}|${api}|${target}`;
      let row = rows.get(key);
      if (!row) {
        row = {
          ...served.row,
          requests: 0,
          billed: 0,
          messages: 0,
          bytes: 0,
          emptyWaited: 0,
          emptyWoken: 0,
          emptyShort: 0,
          errors: 0,
        };
        rows.set(key, row);
      }
      row.requests += 1;
      row.billed += served.billed;
      row.messages += served.messages;
      row.bytes += served.bytes;
      if (served.row.api === "ReceiveMessage" && served.messages === 0) {
        if (served.waitSeconds === 0) row.emptyShort += 1;
        else if (reply.elapsedTime >= served.waitSeconds * 1000 - WAITED_SLACK_MS) row.emptyWaited += 1;
        else row.emptyWoken += 1;
      }
      if (reply.statusCode >= 400) row.errors += 1;
    });
  };
  diagnostics.subscribe("fastify.initialization", onFastify);
  diagnostics.subscribe("http.server.request.start", onHttpRequest);
  return {
    nameQueues(names) {
      queueNames = { ...queueNames, ...names };
    },
    take() {
      const taken = [...rows.values()];
      rows = new Map();
      return taken;
    },
    stop() {
      counting = false;
      diagnostics.unsubscribe("fastify.initialization", onFastify);
      diagnostics.unsubscribe("http.server.request.start", onHttpRequest);
    },
  };
}

type Described = {
  row: Pick<ServedRequests, "origin" | "service" | "api" | "target" | "priceClass">;
  billed: number;
  messages: number;
  bytes: number;
  waitSeconds: number;
};

function describe(
  request: FastifyRequest,
  receivedCount: { messages: number; bytes: number } | undefined,
  queueNames: Readonly<Record<string, string>>,
): Described {
  const origin = request.headers[ORIGIN_HEADER] === "caller" ? "caller" : "functions";
  const action = sqsAction(request);
  if (action !== undefined) {
    const body = (typeof request.body === "string" ? JSON.parse(request.body) : request.body) as {
      QueueUrl?: string;
      QueueName?: string;
      WaitTimeSeconds?: number;
      MessageBody?: string;
      Entries?: { MessageBody?: string }[];
    } | null;
    const url = body?.QueueUrl;
    const target = url ? (queueNames[url] ?? url.slice(url.lastIndexOf("/") + 1)) : (body?.QueueName ?? "-");
    let bytes = 0;
    let messages = 0;
    if (action === "SendMessageBatch" || action === "SendMessage") {
      const bodies =
        action === "SendMessage"
          ? [body?.MessageBody ?? ""]
          : (body?.Entries?.map((entry) => entry.MessageBody ?? "") ?? []);
      messages = bodies.length;
      bytes = bodies.reduce((sum, b) => sum + Buffer.byteLength(b), 0);
    } else if (action === "DeleteMessageBatch") {
      messages = body?.Entries?.length ?? 0;
    } else if (action === "ReceiveMessage") {
      messages = receivedCount?.messages ?? 0;
      bytes = receivedCount?.bytes ?? 0;
    }
    return {
      row: { origin, service: "SQS", api: action, target, priceClass: "request" },
      billed: Math.max(1, Math.ceil(bytes / SQS_CHUNK_BYTES)),
      messages,
      bytes,
      waitSeconds: Number(body?.WaitTimeSeconds ?? 0),
    };
  }
  const [path = "", query = ""] = request.url.split("?");
  const [, bucket = "", ...rest] = path.split("/");
  const key = decodeURIComponent(rest.join("/"));
  const params = new URLSearchParams(query);
  const api = s3Api(request.method, key, params, request.headers);
  const priceClass =
    request.method === "DELETE"
      ? "free"
      : ["PUT", "POST"].includes(request.method) || api.startsWith("List")
        ? "put"
        : "get";
  return {
    row: { origin, service: "S3", api, target: key ? objectKind(key) : `bucket ${bucket}`, priceClass },
    billed: 1,
    messages: 0,
    bytes: 0,
    waitSeconds: 0,
  };
}

function sqsAction(request: FastifyRequest): string | undefined {
  const target = request.headers["x-amz-target"];
  return typeof target === "string" && target.startsWith("AmazonSQS.") ? target.slice(10) : undefined;
}

function s3Api(method: string, key: string, params: URLSearchParams, headers: FastifyRequest["headers"]) {
  const named = params.get("x-id"); // the AWS SDK names most S3 operations in the query
  if (named) return named;
  if (method === "HEAD") return key ? "HeadObject" : "HeadBucket";
  if (method === "GET")
    return key ? "GetObject" : params.get("list-type") === "2" ? "ListObjectsV2" : "ListObjects";
  if (method === "PUT")
    return key ? (headers["x-amz-copy-source"] ? "CopyObject" : "PutObject") : "CreateBucket";
  if (method === "DELETE") return key ? "DeleteObject" : "DeleteBucket";
  return `${method} ${key ? "object" : "bucket"}`;
}

/** The kind of object a key names in squall's layout (`runs/<flowRunId>/...`, `keys/<flowRunId>`, `open/<flowRunId>`). */
function objectKind(key: string): string {
  if (/^keys\/[^/]+$/.test(key)) return "run key";
  if (/^open\/[^/]+$/.test(key)) return "open-run marker";
  const within = key.replace(/^runs\/[^/]+\//, "");
  if (within === key) return "other object";
  if (within === "summary") return "run summary";
  if (within.startsWith("log/")) return "run log segment";
  if (within.startsWith("payloads/")) return "stored arguments";
  if (within.startsWith("results/")) return "stored result";
  if (within === "heartbeat") return "caller heartbeat";
  return "other run object";
}

/** Messages and their body bytes in a ReceiveMessage answer. */
function receivedMessages(payload: unknown): { messages: number; bytes: number } {
  const text = typeof payload === "string" ? payload : Buffer.isBuffer(payload) ? payload.toString() : "";
  try {
    const answer = JSON.parse(text) as { Messages?: { Body?: string }[] };
    const messages = answer.Messages ?? [];
    return {
      messages: messages.length,
      bytes: messages.reduce((sum, m) => sum + Buffer.byteLength(m.Body ?? ""), 0),
    };
  } catch {
    return { messages: 0, bytes: 0 };
  }
}
