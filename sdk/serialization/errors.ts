import * as squallErrors from "../errors.js";
import { InvalidArgumentError } from "../errors.js";

type ErrorClass = new (...args: never[]) => Error;

// Errors come back from another process as the class they were thrown as, when this
// process knows a class of that name: the built-ins, squall's own, and any registered.
const classes = new Map<string, ErrorClass>();
for (const cls of [
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
  AggregateError,
]) {
  classes.set(cls.name, cls);
}
for (const value of Object.values(squallErrors)) {
  if (typeof value === "function" && value.prototype instanceof Error)
    classes.set(value.name, value as ErrorClass);
}

/**
 * Lets errors of this class that were thrown in another process (a worker thread, a Lambda)
 * come back as instances of it. Classes exported by a task's own module are found without this.
 *
 * @example
 * class QuotaExceeded extends Error {}
 * registerErrorClass(QuotaExceeded);
 */
export function registerErrorClass(cls: ErrorClass): void {
  if (typeof cls !== "function" || !(cls.prototype instanceof Error || cls === Error)) {
    throw new InvalidArgumentError(
      `Expected registerErrorClass() to get an Error class, got \`${String(cls)}\``,
    );
  }
  classes.set(cls.name, cls);
}

/** Registers every Error class among a module's exports. */
export function registerErrorClassesOf(moduleExports: Record<string, unknown>): void {
  for (const value of Object.values(moduleExports)) {
    if (typeof value === "function" && value.prototype instanceof Error && !classes.has(value.name)) {
      classes.set(value.name, value as ErrorClass);
    }
  }
}

/** An error as it travels: its class name and everything a reader needs. */
export interface ErrorRecord {
  readonly className: string;
  readonly name: string;
  readonly message: string;
  readonly stack: string | undefined;
  readonly cause: unknown;
  readonly fields: Record<string, unknown>;
}

const OWN = new Set(["name", "message", "stack", "cause"]);

export function recordOf(error: Error): ErrorRecord {
  const fields: Record<string, unknown> = {};
  for (const key of Object.keys(error))
    if (!OWN.has(key)) fields[key] = (error as unknown as Record<string, unknown>)[key];
  return {
    className: error.constructor?.name ?? "Error",
    name: error.name,
    message: error.message,
    stack: error.stack,
    cause: error.cause,
    fields,
  };
}

/** Rebuilds an error without calling its constructor (whose parameters are unknown here). */
export function reviveError(record: ErrorRecord): Error {
  const cls = classes.get(record.className) ?? Error;
  const error = Object.create(cls.prototype) as Error;
  define(error, "message", record.message);
  if (record.stack !== undefined) define(error, "stack", record.stack);
  if (record.cause !== undefined) define(error, "cause", record.cause);
  if (error.name !== record.name) define(error, "name", record.name);
  Object.assign(error, record.fields);
  return error;
}

function define(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, configurable: true, enumerable: false });
}
