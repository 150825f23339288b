import { createHash } from "node:crypto";
import { CacheKeyError } from "./errors.js";

/** What a cache policy may use to compute a task run's cache key. */
export interface CacheKeyContext {
  readonly taskName: string;
  /** A hash of the task function's source text. */
  readonly taskSource: string;
  readonly args: readonly unknown[];
  readonly flowRunId: string;
}

type KeyPart = (context: CacheKeyContext) => string | undefined;

/**
 * Decides which runs share a cached result. Policies combine with `plus`:
 * the key then changes when any part changes. A part that gives `undefined`
 * turns caching off for that run.
 *
 * @example
 * const fetchPage = task(
 *   { cachePolicy: cachePolicies.inputs.plus(cachePolicies.taskSource), cacheExpirationSeconds: 3600 },
 *   async function fetchPage(url: string) { return (await fetch(url)).text(); },
 * );
 */
export class CachePolicy {
  readonly #parts: readonly KeyPart[];

  constructor(part: KeyPart | readonly KeyPart[]) {
    this.#parts = typeof part === "function" ? [part] : part;
  }

  plus(other: CachePolicy): CachePolicy {
    return new CachePolicy([...this.#parts, ...other.#parts]);
  }

  /** The run's cache key, or `undefined` when this run is not to be cached. */
  computeKey(context: CacheKeyContext): string | undefined {
    const hash = createHash("sha256").update(context.taskName);
    for (const part of this.#parts) {
      const value = part(context);
      if (value === undefined) return undefined;
      hash.update("\0").update(value);
    }
    return `${context.taskName.replace(/[^A-Za-z0-9._-]/g, "_")}-${hash.digest("hex")}`;
  }
}

/** Ready-made policies, as in Prefect. */
export const cachePolicies = {
  /** Runs with equal arguments share a result. */
  inputs: new CachePolicy((context) => canonical(context.args, "args")),
  /** Runs of the same task source share a result; editing the task invalidates it. */
  taskSource: new CachePolicy((context) => context.taskSource),
  /** Runs within one flow run share a result. */
  flowRun: new CachePolicy((context) => context.flowRunId),
} as const;

/** A stable text form of a value: equal values give equal text whatever their key order. */
export function canonical(value: unknown, path: string, ancestors: object[] = []): string {
  switch (typeof value) {
    case "undefined":
      return "u";
    case "boolean":
      return value ? "t" : "f";
    case "number":
      return `n${value}`;
    case "bigint":
      return `b${value}`;
    case "string":
      return JSON.stringify(value);
    case "object": {
      if (value === null) return "null";
      if (value instanceof Date) return `D${value.toISOString()}`;
      if (ArrayBuffer.isView(value)) {
        return `B${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64")}`;
      }
      if (ancestors.includes(value)) throw unhashable(path, "a circular reference");
      ancestors.push(value);
      try {
        return canonicalCollection(value, path, ancestors);
      } finally {
        ancestors.pop();
      }
    }
    default:
      throw unhashable(path, `a ${typeof value}`);
  }
}

function canonicalCollection(value: object, path: string, ancestors: object[]): string {
  if (Array.isArray(value)) {
    return `[${value.map((item, i) => canonical(item, `${path}[${i}]`, ancestors)).join(",")}]`;
  }
  if (value instanceof Map) {
    const entries = [...value].map(
      ([k, v], i) =>
        `${canonical(k, `${path}.key${i}`, ancestors)}:${canonical(v, `${path}.get(${i})`, ancestors)}`,
    );
    return `M{${entries.sort().join(",")}}`;
  }
  if (value instanceof Set) {
    return `S{${[...value]
      .map((v, i) => canonical(v, `${path}[${i}]`, ancestors))
      .sort()
      .join(",")}}`;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    throw unhashable(path, `a ${value.constructor?.name ?? "class"} instance`);
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(record[k], `${path}.${k}`, ancestors)}`).join(",")}}`;
}

function unhashable(path: string, what: string): CacheKeyError {
  return new CacheKeyError(
    `Cannot compute a cache key from ${path}: it is ${what}. Pass a \`cacheKeyFn\` that derives a key from the other arguments.`,
  );
}

export function sourceHash(fn: (...args: never[]) => unknown): string {
  return createHash("sha256").update(fn.toString()).digest("hex").slice(0, 16);
}
