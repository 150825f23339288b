import { InvalidArgumentError } from "../errors.js";

/** Turns values into bytes and back, for results that are stored or cached. */
export interface Serializer {
  readonly name: string;
  serialize(value: unknown): Uint8Array;
  deserialize(bytes: Uint8Array): unknown;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** JSON values only; anything JSON would drop or mangle is rejected, naming where it sits. */
export const jsonSerializer: Serializer = {
  name: "json",
  serialize(value) {
    assertJson(value, "value");
    return encoder.encode(JSON.stringify(value));
  },
  deserialize(bytes) {
    return JSON.parse(decoder.decode(bytes));
  },
};

function assertJson(value: unknown, path: string, seen: Set<object> = new Set()): void {
  switch (typeof value) {
    case "string":
    case "boolean":
      return;
    case "number":
      if (Number.isFinite(value)) return;
      break;
    case "object": {
      if (value === null) return;
      if (seen.has(value)) throw cannotSerialize(path, "a circular reference");
      seen.add(value);
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) assertJson(value[i], `${path}[${i}]`, seen);
      } else if (isPlainObject(value)) {
        for (const [key, item] of Object.entries(value)) {
          if (item !== undefined) assertJson(item, `${path}.${key}`, seen);
        }
      } else throw cannotSerialize(path, `a ${value.constructor?.name ?? "class"} instance`);
      seen.delete(value);
      return;
    }
  }
  throw cannotSerialize(path, describe(value));
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function describe(value: unknown): string {
  if (typeof value === "number") return String(value);
  return `a ${typeof value}`;
}

function cannotSerialize(path: string, what: string): InvalidArgumentError {
  return new InvalidArgumentError(
    `Cannot serialize ${path}: it is ${what}, which JSON cannot carry. Return JSON values, or pass a serializer that supports it.`,
  );
}
