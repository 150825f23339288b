import { DevalueError, parse, stringify } from "devalue";
import { InvalidArgumentError } from "../errors.js";
import type { StoreLocator } from "../storage/result-store.js";
import { type ErrorRecord, recordOf, registerErrorClass, reviveError } from "./errors.js";
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

registerErrorClass(SerializationError);

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
    if (isPlainJson(value, new Set())) return tagged(J, JSON.stringify(value));
    try {
      return tagged(D, stringify(value, reducers));
    } catch (error) {
      if (error instanceof DevalueError)
        throw new SerializationError(`${root}${error.path}`, describe(error.value));
      throw error;
    }
  },
  deserialize(bytes) {
    const text = decoder.decode(bytes.subarray(1));
    return bytes[0] === J ? JSON.parse(text) : parse(text, revivers);
  },
};

const J = "J".charCodeAt(0);
const D = "D".charCodeAt(0);

/**
 * `text` as UTF-8 after a one-byte tag, written straight into one array: prefixing the tag to
 * the string first would make V8 flatten a copy of it, as large as the value (hundreds of MB
 * for a large argument), only to encode it.
 */
function tagged(tag: number, text: string): Uint8Array {
  const bytes = new Uint8Array(1 + Buffer.byteLength(text, "utf8"));
  bytes[0] = tag;
  encoder.encodeInto(text, bytes.subarray(1));
  return bytes;
}

/**
 * True when JSON.stringify would carry `value` exactly: no undefined, non-finite numbers or
 * other types, and no object reached twice (JSON would copy a repeated one, and loop on a cycle).
 */
function isPlainJson(value: unknown, seen: Set<object>): boolean {
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(value) && !Object.is(value, -0);
    case "object": {
      if (value === null) return true;
      if (seen.has(value)) return false;
      seen.add(value);
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) if (!isPlainJson(value[i], seen)) return false;
        return true;
      }
      if (Object.getPrototypeOf(value) !== Object.prototype) return false;
      for (const key in value) {
        if (!isPlainJson((value as Record<string, unknown>)[key], seen)) return false;
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
  if (typeof value === "number") return `the number ${String(value)}`;
  if (typeof value === "bigint") return `the BigInt ${String(value)}n`;
  if (value === undefined) return "undefined";
  if (typeof value === "object" && value !== null) {
    const name = Object.getPrototypeOf(value)?.constructor?.name;
    return name && name !== "Object"
      ? `${/^[AEIOU]/.test(name) ? "an" : "a"} ${name} instance`
      : "an object JSON cannot carry";
  }
  return `a ${typeof value}`;
}
