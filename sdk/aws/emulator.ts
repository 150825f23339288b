import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { FastifyInstance } from "fastify";
import type { buildApp } from "fauxqs";
import { InvalidArgumentError, SquallError } from "../errors.js";
import { type FaultOptions, INTERNAL_HEADER, installFaults } from "./local/faults.js";
import { type LocalFunction, serveInvokeApi } from "./local/invoke-api.js";

type App = ReturnType<typeof buildApp>;
type Headers = Record<string, string | string[] | undefined>;

const HOST = "127.0.0.1";
const REGION = "us-east-1";
const CREDENTIALS = { accessKeyId: "squall-local", secretAccessKey: "squall-local" } as const;

/**
 * How `startEmulator` starts its emulator.
 *
 * @example
 * const emulator = await startEmulator({ port: 4566 }); // a fixed port, for the AWS CLI
 */
export interface QueueOptions {
  /** @default 30 */
  readonly visibilityTimeoutSeconds?: number;
  readonly deadLetterUrl?: string;
  /** @default 3 */
  readonly maxReceiveCount?: number;
}

export interface EmulatorOptions {
  /**
   * The port to listen on, on 127.0.0.1 only.
   * @default 0 (a free port)
   */
  readonly port?: number;
  /**
   * Log every request the emulator serves (Fastify's logger).
   * @default false
   */
  readonly logger?: boolean;
}

/**
 * A running emulator: where it listens, how to reach it, and how to stop it.
 *
 * @example
 * const emulator: Emulator = await startEmulator();
 * const s3 = emulator.s3Client();
 * await s3.send(new ListBucketsCommand({}));
 */
export interface Emulator {
  /** `http://127.0.0.1:<port>`: give it to S3 clients as `endpoint`, with `forcePathStyle`. */
  readonly endpoint: string;
  readonly region: string;
  /** Credentials the emulator accepts (it accepts any; these sign requests so clients need no AWS setup). */
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** A new S3 client for this emulator; the caller owns it (`client.destroy()` when done). */
  s3Client(): S3Client;
  /** Creates a bucket; creating one that exists does nothing. */
  createBucket(name: string): Promise<void>;
  /** A new SQS client for this emulator; the caller owns it. */
  sqsClient(): SQSClient;
  /**
   * Creates a queue and returns its URL. With `deadLetterUrl`, a message received
   * `maxReceiveCount` times moves there.
   */
  createQueue(name: string, options?: QueueOptions): Promise<string>;
  /**
   * Functions it serves through Lambda's Invoke API (`POST /2015-03-31/functions/<name>/invocations`),
   * by name: the local environment puts its flow-runner here.
   */
  readonly functions: Map<string, LocalFunction>;
  /**
   * Answers a share of requests with 500 or 503 from now on (`undefined` stops it), to show
   * that callers retry and lose nothing.
   */
  injectFaults(options: FaultOptions | undefined): void;
  /** How many requests were answered with an injected fault. */
  readonly faultsInjected: number;
  /**
   * Counts the S3 requests from now on that name a key under `prefix` (objects, or listings of
   * such a prefix), in any bucket; for tests that check what a path costs. Returns the count so far.
   */
  watchKeys(prefix: string): () => number;
  /** Closes the server and its connections; everything it held is gone. */
  stop(): Promise<void>;
}

/**
 * Starts an S3 (and SQS, SNS) emulator inside this process, listening on 127.0.0.1 only:
 * fauxqs, with conditional PutObject (`If-None-Match: *`, `If-Match: <etag>`) answered as AWS
 * does. Nothing outlives `stop()`.
 *
 * @example
 * const emulator = await startEmulator();
 * await emulator.createBucket("results");
 * const store = new S3ResultStore({ bucket: "results", client: emulator.s3Client() });
 * // ...
 * await emulator.stop();
 */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new InvalidArgumentError(
      `Expected \`port\` to be an integer from 0 to 65535, got \`${String(port)}\``,
    );
  }
  // Loaded here, not at the top, so that `squall/aws` stays light where no emulator runs (Lambda).
  const { buildApp } = await importFauxqs();
  const app = buildApp({ logger: options.logger ?? false, defaultRegion: REGION });
  fillConditionalPut(app);
  const faults = installFaults(app as unknown as FastifyInstance);
  const functions = new Map<string, LocalFunction>();
  const watched = new Map<string, { count: number }>();
  app.addHook("onRequest", async (request) => {
    if (watched.size === 0) return;
    const [path = "", query = ""] = request.url.split("?");
    const key = decodeURIComponent(path.split("/").slice(2).join("/"));
    const listed = new URLSearchParams(query).get("prefix") ?? undefined;
    for (const [prefix, counter] of watched) {
      if ((key !== "" && key.startsWith(prefix)) || listed?.startsWith(prefix)) counter.count += 1;
    }
  });
  serveInvokeApi(app as unknown as FastifyInstance, functions);
  try {
    await app.listen({ host: HOST, port });
  } catch (error) {
    await app.close();
    throw error;
  }
  const endpoint = `http://${HOST}:${(app.server.address() as AddressInfo).port}`;

  const newClient = () =>
    new S3Client({ endpoint, region: REGION, credentials: CREDENTIALS, forcePathStyle: true });
  const newSqsClient = () =>
    new SQSClient({ endpoint, region: REGION, credentials: CREDENTIALS, useQueueUrlAsEndpoint: false });
  let admin: S3Client | undefined;
  let sqsAdmin: SQSClient | undefined;
  let stopped: Promise<void> | undefined;

  return {
    endpoint,
    region: REGION,
    credentials: CREDENTIALS,
    s3Client: newClient,
    async createBucket(name) {
      if (typeof name !== "string" || name.length === 0) {
        throw new InvalidArgumentError(`Expected \`name\` to be a non-empty string, got \`${String(name)}\``);
      }
      admin ??= newClient();
      await admin.send(new CreateBucketCommand({ Bucket: name }));
    },
    sqsClient: newSqsClient,
    async createQueue(name, queueOptions = {}) {
      if (typeof name !== "string" || !/^[A-Za-z0-9_-]{1,80}$/.test(name)) {
        throw new InvalidArgumentError(
          `Expected \`name\` to be 1 to 80 letters, digits, \`-\` or \`_\`, got \`${String(name)}\``,
        );
      }
      sqsAdmin ??= newSqsClient();
      const attributes: Record<string, string> = {
        VisibilityTimeout: String(queueOptions.visibilityTimeoutSeconds ?? 30),
      };
      if (queueOptions.deadLetterUrl) {
        const arn = await sqsAdmin.send(
          new GetQueueAttributesCommand({
            QueueUrl: queueOptions.deadLetterUrl,
            AttributeNames: ["QueueArn"],
          }),
        );
        attributes.RedrivePolicy = JSON.stringify({
          deadLetterTargetArn: arn.Attributes?.QueueArn,
          maxReceiveCount: queueOptions.maxReceiveCount ?? 3,
        });
      }
      const created = await sqsAdmin.send(
        new CreateQueueCommand({ QueueName: name, Attributes: attributes }),
      );
      return created.QueueUrl as string;
    },
    functions,
    injectFaults: (next) => faults.set(next),
    get faultsInjected() {
      return faults.injected;
    },
    watchKeys(prefix) {
      const counter = watched.get(prefix) ?? { count: 0 };
      watched.set(prefix, counter);
      return () => counter.count;
    },
    stop() {
      stopped ??= (async () => {
        admin?.destroy();
        sqsAdmin?.destroy();
        await app.close();
      })();
      return stopped;
    },
  };
}

/**
 * fauxqs, an optional peer: users who only deploy never install it. Missing, the error says
 * what to install instead of Node's bare "Cannot find package".
 */
async function importFauxqs(): Promise<typeof import("fauxqs")> {
  try {
    return await import("fauxqs");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "ERR_MODULE_NOT_FOUND" || !String((error as Error).message).includes("'fauxqs'"))
      throw error;
    throw new SquallError(
      "The local environment runs on the emulator fauxqs, which is not installed here: npm install --save-dev fauxqs (or give LambdaTaskRunner a deployed stack or an address).",
      { cause: error },
    );
  }
}

/**
 * fauxqs ignores `If-None-Match` and `If-Match` on PutObject: it overwrites and answers 200.
 * This hook takes over every conditional object PUT. Per key, one at a time, it HEADs the key,
 * answers 412 PreconditionFailed (or 404 NoSuchKey for `If-Match` on a missing key) when the
 * condition does not hold, and otherwise replays the PUT without its condition and relays the
 * answer. Holding the key from the HEAD until the write is done is what lets exactly one of
 * racing creates win. Unconditional writes are not queued: a plain PUT that lands between the
 * HEAD and the write of a conditional one is overwritten, where AWS would fail the conditional one.
 */
function fillConditionalPut(app: App): void {
  const queues = new Map<string, Promise<void>>();

  app.addHook("preHandler", async (request, reply) => {
    const ifNoneMatch = header(request.headers, "if-none-match");
    const ifMatch = header(request.headers, "if-match");
    if (request.method !== "PUT" || (ifNoneMatch === undefined && ifMatch === undefined)) return;
    const { bucket, "*": key } = request.params as { bucket?: string; "*"?: string };
    const query = request.query as Record<string, string | undefined>;
    if (!bucket || !key || query.uploadId !== undefined) return; // not a whole-object PUT

    const path = request.url.split("?")[0] ?? request.url;
    const release = await takeTurn(queues, `${bucket}/${key}`);
    try {
      const head = await app.inject({ method: "HEAD", url: path, headers: { [INTERNAL_HEADER]: "1" } });
      if (head.statusCode !== 200 && head.statusCode !== 404) {
        // Not knowing whether the object exists, answer as S3 does when it cannot tell: try again.
        return reply
          .code(503)
          .header("content-type", "application/xml")
          .send(errorXml("SlowDown", undefined, path));
      }
      const etag = head.statusCode === 200 ? String(head.headers.etag ?? "") : undefined;
      const failure = checkConditions({ ifNoneMatch, ifMatch, etag });
      if (failure) {
        const [status, code, condition] = failure;
        return reply
          .code(status)
          .header("content-type", "application/xml")
          .send(errorXml(code, condition, path));
      }
      const put = await app.inject({
        method: "PUT",
        url: request.url,
        headers: { ...forwardedHeaders(request.headers), [INTERNAL_HEADER]: "1" },
        payload: Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0),
      });
      for (const [name, value] of Object.entries(put.headers)) {
        if (value !== undefined && !HOP_BY_HOP.has(name)) reply.header(name, value);
      }
      return reply.code(put.statusCode).send(put.rawPayload);
    } finally {
      release();
    }
  });
}

type Failure = [status: number, code: keyof typeof MESSAGES, condition: string | undefined];

/** What AWS answers a conditional PUT when the object's current ETag is `etag` (undefined: no object). */
function checkConditions(request: {
  ifNoneMatch: string | undefined;
  ifMatch: string | undefined;
  etag: string | undefined;
}): Failure | undefined {
  const { ifNoneMatch, ifMatch, etag } = request;
  if (ifNoneMatch?.trim() === "*" && etag !== undefined) return [412, "PreconditionFailed", "If-None-Match"];
  if (ifMatch === undefined) return undefined;
  if (etag === undefined) return [404, "NoSuchKey", undefined];
  if (!etagsMatch(ifMatch, etag)) return [412, "PreconditionFailed", "If-Match"];
  return undefined;
}

/** Waits for the earlier holders of `id`, then holds it until the returned function is called. */
async function takeTurn(queues: Map<string, Promise<void>>, id: string): Promise<() => void> {
  const before = queues.get(id);
  let release!: () => void;
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  const tail = (before ?? Promise.resolve()).then(() => held);
  queues.set(id, tail);
  void tail.then(() => {
    if (queues.get(id) === tail) queues.delete(id);
  });
  await before;
  return release;
}

const HOP_BY_HOP = new Set(["connection", "content-length", "date", "keep-alive", "transfer-encoding"]);
const NOT_FORWARDED = new Set([...HOP_BY_HOP, "host", "expect", "if-match", "if-none-match"]);

function forwardedHeaders(incoming: Headers): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value !== undefined && !NOT_FORWARDED.has(name)) headers[name] = value;
  }
  return headers;
}

function header(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(",") : value;
}

/** `If-Match` may list several entity tags, quoted or not, or `*`. */
function etagsMatch(ifMatch: string, etag: string): boolean {
  const bare = (tag: string) => tag.trim().replace(/^W\//, "").replace(/^"|"$/g, "");
  return ifMatch.split(",").some((tag) => tag.trim() === "*" || bare(tag) === bare(etag));
}

const MESSAGES = {
  SlowDown: "Please reduce your request rate.",
  PreconditionFailed: "At least one of the pre-conditions you specified did not hold",
  NoSuchKey: "The specified key does not exist.",
} as const;

/** An S3 error body, as AWS sends it. */
function errorXml(code: keyof typeof MESSAGES, condition: string | undefined, path: string): string {
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    "<Error>",
    `<Code>${code}</Code>`,
    `<Message>${MESSAGES[code]}</Message>`,
    condition ? `<Condition>${condition}</Condition>` : "",
    `<Resource>${escapeXml(path)}</Resource>`,
    `<RequestId>${randomUUID().replaceAll("-", "").slice(0, 16).toUpperCase()}</RequestId>`,
    "</Error>",
  ].join("");
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
