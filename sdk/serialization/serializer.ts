import { DevalueError, parse, stringify } from "devalue";
import { InvalidArgumentError } from "../errors.js";
import type { StoreLocator } from "../storage/result-store.js";
import { type ErrorRecord, recordOf, reviveError } from "./errors.js";
import { StoredValue } from "./stored.js";

/** Turns values into bytes and back: for results that are stored, and for runs that cross processes. */
export interface Serializer {
  readonly name: string;
  /** @throws SerializationError naming where the value that cannot be carried sits, under `root`. */
  serialize(value: unknown, root?: string): Uint8Array;
  deserialize(bytes: Uint8Array): unknown;
}

/** A value cannot be serialized; `path` says where it sits (`args[1].client`). */
export class SerializationError extends InvalidArgumentError {
  readonly path: string;
  constructor(path: string, what: string) {
    super(
      `Cannot serialize ${path}: it is ${what}, which cannot cross to another process. Pass plain data (objects, arrays, strings, numbers, Dates, Maps, Sets, BigInts, typed arrays, Errors), or give the task a serializer that carries it.`,
    );
    this.path = path;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const reducers = {
  Stored: (value: unknown) => value instanceof StoredValue && [value.key, value.locator, value.size],
  Buffer: (value: unknown) => Buffer.isBuffer(value) && value.toString("base64"),
  Error: (value: unknown) => value instanceof Error && recordOf(value),
};

const revivers = {
  Stored: ([key, locator, size]: [string, StoreLocator, number]) => new StoredValue(key, locator, size),
  Buffer: (base64: string) => Buffer.from(base64, "base64"),
  Error: (record: ErrorRecord) => reviveError(record),
};

/**
 * The default serializer: JSON values plus `undefined`, Date, Map, Set, BigInt, RegExp, URL,
 * typed arrays, Buffer, Errors (class, message, stack, cause and own fields) and repeated or
 * circular references, in a portable text format: plain JSON data as JSON, anything else
 * through devalue. Functions, symbols and class instances are rejected, naming where they sit.
 *
 * @example
 * const bytes = defaultSerializer.serialize({ at: new Date(), ids: new Set([1, 2]) });
 * const value = defaultSerializer.deserialize(bytes);
 */
export const defaultSerializer: Serializer = {
  name: "default",
  serialize(value, root = "value") {
    // Plain JSON data (the common case) takes the native path, several times faster.
    if (isPlainJson(value, 0)) return encoder.encode(`J${JSON.stringify(value)}`);
    try {
      return encoder.encode(`D${stringify(value, reducers)}`);
    } catch (error) {
      if (error instanceof DevalueError) throw new SerializationError(`${root}${error.path}`, describe(error.value));
      throw error;
    }
  },
  deserialize(bytes) {
    const text = decoder.decode(bytes);
    return text.startsWith("J") ? JSON.parse(text.slice(1)) : parse(text.slice(1), revivers);
  },
};

/** Deep enough for real data; a cycle goes deeper and takes the devalue path, which carries it. */
const MAX_JSON_DEPTH = 64;

/** True when JSON.stringify would carry `value` exactly (no undefined, non-finite numbers, or other types). */
function isPlainJson(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(value) && !Object.is(value, -0);
    case "object": {
      if (value === null) return true;
      if (depth >= MAX_JSON_DEPTH) return false;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) if (!isPlainJson(value[i], depth + 1)) return false;
        return true;
      }
      if (Object.getPrototypeOf(value) !== Object.prototype) return false;
      for (const key in value) {
        if (!isPlainJson((value as Record<string, unknown>)[key], depth + 1)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

/** JSON values only; faster than the default for plain data. Anything JSON would drop or mangle is rejected. */
export const jsonSerializer: Serializer = {
  name: "json",
  serialize(value, root = "value") {
    assertJson(value, root, new Set());
    return encoder.encode(JSON.stringify(value) ?? "null");
  },
  deserialize(bytes) {
    return JSON.parse(decoder.decode(bytes));
  },
};

function assertJson(value: unknown, path: string, seen: Set<object>): void {
  switch (typeof value) {
    case "string":
    case "boolean":
      return;
    case "number":
      if (Number.isFinite(value)) return;
      break;
    case "object": {
      if (value === null) return;
      if (seen.has(value)) throw new SerializationError(path, "a circular reference");
      seen.add(value);
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) assertJson(value[i], `${path}[${i}]`, seen);
      } else if (isPlainObject(value)) {
        for (const [key, item] of Object.entries(value)) {
          if (item !== undefined) assertJson(item, `${path}.${key}`, seen);
        }
      } else throw new SerializationError(path, describe(value));
      seen.delete(value);
      return;
    }
  }
  throw new SerializationError(path, describe(value));
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function describe(value: unknown): string {
  if (typeof value === "function") return value.name ? `the function \`${value.name}\`` : "a function";
  if (typeof value === "symbol") return "a symbol";
  if (typeof value === "number" || typeof value === "bigint") return `the number ${String(value)}`;
  if (value === undefined) return "undefined";
  if (typeof value === "object" && value !== null) {
    const name = Object.getPrototypeOf(value)?.constructor?.name;
    return name && name !== "Object" ? `a ${name} instance` : "an object JSON cannot carry";
  }
  return `a ${typeof value}`;
}
