import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { BucketAccessDeniedError, InvalidArgumentError } from "../errors.js";
import { assertValidKey } from "../storage/keys.js";
import type { ResultStore, StoreLocator } from "../storage/result-store.js";
import { MULTIPART_THRESHOLD, putInParts } from "./multipart.js";

/**
 * Where an S3ResultStore keeps its results.
 *
 * @example
 * const options: S3ResultStoreOptions = { bucket: "my-results", prefix: "squall/", region: "eu-west-1" };
 */
export interface S3ResultStoreOptions {
  /** The bucket that holds the results. */
  readonly bucket: string;
  /**
   * Put before every key, so that several stores can share a bucket (`squall/` stores `runs/x` at
   * `squall/runs/x`). A missing trailing `/` is added.
   * @default "" (keys sit at the top of the bucket)
   */
  readonly prefix?: string;
  /** @default the AWS SDK's own resolution (`AWS_REGION`, the profile) */
  readonly region?: string;
  /**
   * An S3-compatible endpoint (an emulator, LocalStack, MinIO), addressed path-style unless
   * `forcePathStyle` is false.
   * @default AWS S3
   */
  readonly endpoint?: string;
  /**
   * Address the bucket in the path (`<endpoint>/<bucket>/<key>`) rather than in the host name
   * (`<bucket>.<host>/<key>`). Emulators reached by name need it: `<bucket>.localhost` may not
   * resolve. (The AWS SDK addresses an endpoint given as an IP address path-style anyway.) A store
   * reopened from its `locator` uses the default.
   * @default true when `endpoint` is set, else false
   */
  readonly forcePathStyle?: boolean;
  /**
   * A client to use instead of one built from `region`, `endpoint` and `forcePathStyle`. Still
   * pass `region` and `endpoint` if other threads or processes must reopen this store from its
   * `locator`: a locator never holds a client or credentials.
   */
  readonly client?: S3Client;
}

/** A stored value with its version. */
export interface Versioned {
  readonly bytes: Uint8Array;
  readonly etag: string;
}

/**
 * Keeps results as objects in an S3 bucket, so every worker, thread and process that can reach
 * the bucket shares them. Unlike FileResultStore, it can hold both a key and keys beneath it
 * (`a` and `a/b`). `create` is a conditional PutObject (`If-None-Match: *`), atomic in S3.
 * Credentials come from the AWS SDK's default chain (environment, profile, role).
 *
 * @example
 * import { task } from "squall";
 * import { S3ResultStore } from "squall/aws";
 *
 * const store = new S3ResultStore({ bucket: "my-results", prefix: "squall/" });
 * const double = task({ persistResult: true, resultStorage: store }, function double(x: number) { return 2 * x; });
 */
export class S3ResultStore implements ResultStore {
  readonly bucket: string;
  /** The normalized prefix: `""` or ending in `/`. */
  readonly prefix: string;
  readonly #region: string | undefined;
  readonly #endpoint: string | undefined;
  readonly #client: S3Client;

  /** Takes options, or the `locator` of another S3ResultStore (its `kind` is ignored). */
  constructor(options: S3ResultStoreOptions | Extract<StoreLocator, { kind: "s3" }>) {
    if (typeof options !== "object" || options === null) {
      throw new InvalidArgumentError(
        `Expected S3ResultStore options to be an object, got \`${String(options)}\``,
      );
    }
    const { bucket, prefix = "", region, endpoint } = options;
    const client = "client" in options ? options.client : undefined;
    const forcePathStyle = "forcePathStyle" in options ? options.forcePathStyle : undefined;
    if (typeof bucket !== "string" || bucket.length === 0) {
      throw new InvalidArgumentError(`Expected \`bucket\` to be a non-empty string, got \`${show(bucket)}\``);
    }
    if (region !== undefined && (typeof region !== "string" || region.length === 0)) {
      throw new InvalidArgumentError(`Expected \`region\` to be a non-empty string, got \`${show(region)}\``);
    }
    if (endpoint !== undefined && !isHttpUrl(endpoint)) {
      throw new InvalidArgumentError(`Expected \`endpoint\` to be an http(s) URL, got \`${show(endpoint)}\``);
    }
    if (forcePathStyle !== undefined && typeof forcePathStyle !== "boolean") {
      throw new InvalidArgumentError(
        `Expected \`forcePathStyle\` to be a boolean, got \`${show(forcePathStyle)}\``,
      );
    }
    if (client !== undefined && typeof (client as { send?: unknown } | null)?.send !== "function") {
      throw new InvalidArgumentError(`Expected \`client\` to be an S3Client, got \`${show(client)}\``);
    }
    this.bucket = bucket;
    this.prefix = normalizePrefix(prefix);
    this.#region = region;
    this.#endpoint = endpoint;
    this.#client =
      client ?? new S3Client({ region, endpoint, forcePathStyle: forcePathStyle ?? endpoint !== undefined });
  }

  /** How another thread or process reopens this store (`openStore(locator)`). */
  get locator(): StoreLocator {
    return {
      kind: "s3",
      bucket: this.bucket,
      ...(this.prefix && { prefix: this.prefix }),
      ...(this.#region !== undefined && { region: this.#region }),
      ...(this.#endpoint !== undefined && { endpoint: this.#endpoint }),
    };
  }

  /** Writes `value` at `key`; values above {@link MULTIPART_THRESHOLD} go up in parts. */
  async put(key: string, value: Uint8Array): Promise<void> {
    const written =
      value.byteLength > MULTIPART_THRESHOLD
        ? putInParts(this.#client, this.bucket, this.#key(key), value)
        : this.#client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.#key(key), Body: value }));
    await written.catch((error) => this.#denied(error, "s3:PutObject", key));
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const object = await this.#client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.#key(key) }),
      );
      return await bodyBytes(object.Body, object.ContentLength);
    } catch (error) {
      if (isMissingKey(error)) return undefined;
      return this.#denied(error, "s3:GetObject", key);
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.#client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.#key(key) }));
      return true;
    } catch (error) {
      if (isMissingKey(error)) return false;
      return this.#denied(error, "s3:GetObject", key);
    }
  }

  /** Removes the object at `key`, if any. */
  async delete(key: string): Promise<void> {
    await this.#client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.#key(key) }));
  }

  async list(prefix: string): Promise<string[]> {
    return (await this.entries(prefix)).map(({ key }) => key).sort();
  }

  /** The objects under `prefix` with their versions and when they were written (one LIST per thousand). */
  async entries(prefix: string): Promise<{ key: string; etag: string; lastModified: number }[]> {
    const found: { key: string; etag: string; lastModified: number }[] = [];
    let token: string | undefined;
    do {
      const page = await this.#client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: this.prefix + prefix,
          ContinuationToken: token,
        }),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined) continue;
        found.push({
          key: object.Key.slice(this.prefix.length),
          etag: object.ETag ?? "",
          lastModified: object.LastModified?.getTime() ?? 0,
        });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return found;
  }

  async create(key: string, value: Uint8Array): Promise<boolean> {
    const input = { Bucket: this.bucket, Key: this.#key(key), Body: value, IfNoneMatch: "*" };
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.#client.send(new PutObjectCommand(input));
        return true;
      } catch (error) {
        if (errorName(error) === "PreconditionFailed" || statusOf(error) === 412) return false;
        // 409: a write to the key raced this one. If it landed, this create lost; else try once more.
        const conflict = errorName(error) === "ConditionalRequestConflict" || statusOf(error) === 409;
        if (!conflict) return this.#denied(error, "s3:PutObject", key);
        if (await this.exists(key)) return false;
        if (attempt === 2) throw error;
      }
    }
  }

  /**
   * The value at `key` with its version (ETag); `undefined` when there is none. Given
   * `unlessEtag`, answers `"unchanged"` when the value still has that version: a conditional
   * GET that S3 answers with a bodiless 304, the cheap way to watch a key.
   */
  async read(key: string, unlessEtag?: string): Promise<Versioned | "unchanged" | undefined> {
    try {
      const object = await this.#client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.#key(key), IfNoneMatch: unlessEtag }),
      );
      const bytes = (await object.Body?.transformToByteArray()) ?? new Uint8Array();
      return { bytes, etag: object.ETag ?? "" };
    } catch (error) {
      if (unlessEtag !== undefined && statusOf(error) === 304) return "unchanged";
      if (isMissingKey(error)) return undefined;
      return this.#denied(error, "s3:GetObject", key);
    }
  }

  /** Replaces the value at `key` only if it still has version `etag`; `false` when it changed meanwhile. */
  async replace(key: string, value: Uint8Array, etag: string): Promise<boolean> {
    try {
      await this.#client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: this.#key(key), Body: value, IfMatch: etag }),
      );
      return true;
    } catch (error) {
      const name = errorName(error);
      if (name === "PreconditionFailed" || statusOf(error) === 412) return false;
      if (name === "ConditionalRequestConflict" || statusOf(error) === 409) return false;
      if (isMissingKey(error)) return false;
      throw error;
    }
  }

  /** Rethrows `error`, as a `BucketAccessDeniedError` naming the permission when S3 answered 403. */
  #denied(error: unknown, action: string, key: string): never {
    if (statusOf(error) !== 403 && errorName(error) !== "AccessDenied") throw error;
    const reading = action === "s3:GetObject";
    throw new BucketAccessDeniedError(
      `S3 refused ${action} on s3://${this.bucket}/${this.prefix}${key} (403 ${errorName(error) ?? "AccessDenied"}): these credentials need ${action} on that key${reading ? `, and s3:ListBucket on the bucket (without it S3 answers 403 instead of 404 for a key not written yet, such as the next segment of a run's record)` : ""}. A stack's callers get what they need from its SquallCaller managed policy.`,
      { cause: error },
    );
  }

  #key(key: string): string {
    assertValidKey(key);
    return this.prefix + key;
  }
}

/** Objects from this size on are read into one array of their length as they arrive. */
const PREALLOCATE_FROM = 1024 * 1024;

/**
 * An object's body as bytes. The SDK's `transformToByteArray` keeps every chunk and then
 * concatenates them, holding a large value twice at its peak; a body of known length is copied
 * into one array of that length as it comes, so a value of hundreds of MB is held once. (The
 * SDK still checks the body's checksum as it streams, and a body of another length fails.)
 */
async function bodyBytes(
  body: { transformToByteArray(): Promise<Uint8Array> } | undefined,
  length: number | undefined,
): Promise<Uint8Array> {
  if (body === undefined) return new Uint8Array();
  const chunks = body as unknown as Partial<AsyncIterable<Uint8Array>>;
  if (length === undefined || length < PREALLOCATE_FROM || typeof chunks[Symbol.asyncIterator] !== "function")
    return body.transformToByteArray();
  const bytes = new Uint8Array(length);
  let at = 0;
  for await (const chunk of chunks as AsyncIterable<Uint8Array>) {
    if (at + chunk.byteLength > length) throw new Error(`S3 sent more than the object's ${length} bytes.`);
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  if (at !== length) throw new Error(`S3 sent ${at} of the object's ${length} bytes.`);
  return bytes;
}

function normalizePrefix(prefix: unknown): string {
  if (prefix === "") return "";
  const bare = typeof prefix === "string" && prefix.endsWith("/") ? prefix.slice(0, -1) : prefix;
  try {
    if (typeof bare !== "string") throw new TypeError();
    assertValidKey(bare);
  } catch {
    throw new InvalidArgumentError(
      `Expected \`prefix\` to be \`/\`-separated segments of letters, digits and \`._=+-\` (such as \`squall/\`), got \`${show(prefix)}\``,
    );
  }
  return `${bare}/`;
}

function isHttpUrl(value: unknown): boolean {
  if (typeof value !== "string") return false;
  try {
    const { protocol } = new URL(value);
    return protocol === "http:" || protocol === "https:";
  } catch {
    return false;
  }
}

/** A missing object, as GetObject (NoSuchKey) and HeadObject (a bare 404) report it; a missing bucket is not. */
function isMissingKey(error: unknown): boolean {
  const name = errorName(error);
  return name === "NoSuchKey" || (statusOf(error) === 404 && name !== "NoSuchBucket");
}

function errorName(error: unknown): string | undefined {
  return (error as { name?: string } | null)?.name;
}

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
}

function show(value: unknown): string {
  if (typeof value === "object" && value !== null) return value.constructor?.name ?? "Object";
  return String(value);
}
