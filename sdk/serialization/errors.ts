import { bundleIdentity } from "../bundle-identity.js";
import * as squallErrors from "../errors.js";
import { InvalidArgumentError } from "../errors.js";
import { within } from "../within.js";

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

/** How long a task's module may take to give its Error classes before its error is decoded without them. */
const MODULE_WAIT_MS = 100;

/** Modules that started a flow run outside any run: each may still be evaluating (top-level await). */
const flowCallers = new Set<string>();
/** Such modules found still evaluating when their classes were asked for. */
const evaluating = new Set<string>();

/** `module` started a flow run outside any run (at its top level, or from a function it called). */
export function noteFlowCaller(module: string | undefined): void {
  if (module) flowCallers.add(module);
}

/**
 * Registers the Error classes `module` exports, waiting for it at most `ms`. A module still
 * evaluating (a script that awaits its own flow at top level) keeps its import pending until that
 * flow ends, and the flow may be waiting on this very error: a module that started a flow run
 * itself is loaded already, so if its import has not settled by the next turn of the event loop it
 * is still evaluating, and the error is decoded at once without its classes (see
 * `missingClassHint`); they are registered whenever the import settles. A module of a deployed
 * bundle is not imported.
 */
export function learnErrorClassesOf(module: string, ms = MODULE_WAIT_MS): Promise<void> {
  // A module of a deployed bundle has no file to import: the bundle registered the classes its
  // flows module exports as that loaded (flowRunnerHandler); nothing else is there to learn.
  if (bundleIdentity()?.hashOf(module) !== undefined) return Promise.resolve();
  const imported = importOnce(module).then(
    () => true,
    () => true,
  );
  if (!flowCallers.has(module)) return within(imported, ms).then(() => {});
  const nextTurn = new Promise<false>((resolve) => setImmediate(resolve, false));
  return Promise.race([imported, nextTurn]).then((settled) => {
    if (settled) evaluating.delete(module);
    else evaluating.add(module);
  });
}

/**
 * What to change, when `error` came back as a plain Error named after its class because the
 * task's `module` (which would export that class) was still evaluating; else `undefined`.
 */
export function missingClassHint(error: unknown, module: string | undefined): string | undefined {
  if (!(error instanceof Error) || module === undefined || !evaluating.has(module)) return undefined;
  const name = error.name;
  if (Object.getPrototypeOf(error) !== Error.prototype || name === "Error" || classes.has(name)) {
    return undefined;
  }
  return (
    `The error came back as an Error named '${name}', not as the class ${name}: ${module} is still ` +
    "evaluating (it awaits a flow call at top level), so the classes it exports cannot be read yet. " +
    `Call registerErrorClass(${name}) before the first flow call, or start the flows from a function ` +
    "the module does not await at top level (`main().catch(console.error);`)."
  );
}

const hinted = new Set<string>();

/** Gives `warn` the `missingClassHint` for `error`, once per class name in this process. */
export function warnOfMissingClass(
  error: unknown,
  module: string | undefined,
  warn: (hint: string) => void,
): void {
  const hint = missingClassHint(error, module);
  if (!hint || hinted.has((error as Error).name)) return;
  hinted.add((error as Error).name);
  warn(hint);
}

const imports = new Map<string, Promise<unknown>>();

/** Imports `module` once per process; the Error classes it exports are registered as it loads. */
export function importOnce(module: string): Promise<unknown> {
  let loading = imports.get(module);
  if (!loading) {
    loading = import(module);
    imports.set(module, loading);
    loading.then(
      (exports) => registerErrorClassesOf(exports as Record<string, unknown>),
      () => {},
    );
  }
  return loading;
}

/**
 * An error as it travels: its own fields at the top, beside the standard ones, so that a
 * value that cannot travel inside one is reported at its own path (`args[0].client`).
 */
export interface ErrorRecord {
  readonly "@class": string;
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  readonly cause?: unknown;
  readonly [field: string]: unknown;
}

const STANDARD = new Set(["@class", "@errors", "name", "message", "stack", "cause"]);

/** Stands in for a field that refers back to its own error (devalue would rebuild it half-made). */
const SELF = "@self";

export function recordOf(error: Error): ErrorRecord {
  const record: Record<string, unknown> = {};
  for (const key of Object.keys(error)) {
    if (STANDARD.has(key)) continue;
    const value = (error as unknown as Record<string, unknown>)[key];
    record[key] = value === error ? { [SELF]: true } : value;
  }
  record["@class"] = error.constructor?.name ?? "Error";
  record.name = error.name;
  record.message = error.message;
  if (error.stack !== undefined) record.stack = error.stack;
  if (error.cause !== undefined) record.cause = error.cause;
  if (error instanceof AggregateError) record["@errors"] = error.errors;
  return record as ErrorRecord;
}

/** Rebuilds an error without calling its constructor (whose parameters are unknown here). */
export function reviveError(record: ErrorRecord): Error {
  const cls = classes.get(record["@class"]) ?? Error;
  const error = Object.create(cls.prototype) as Error;
  for (const [key, value] of Object.entries(record)) {
    if (STANDARD.has(key)) continue;
    const self =
      typeof value === "object" && value !== null && (value as Record<string, unknown>)[SELF] === true;
    (error as unknown as Record<string, unknown>)[key] = self ? error : value;
  }
  define(error, "message", record.message);
  if (record.stack !== undefined) define(error, "stack", record.stack);
  if (record.cause !== undefined) define(error, "cause", record.cause);
  if (record["@errors"] !== undefined) define(error, "errors", record["@errors"]);
  if (error.name !== record.name) define(error, "name", record.name);
  return error;
}

/**
 * The error with only what can travel: each own field that `canTravel` refuses is dropped,
 * so the class, message and stack still arrive.
 */
export function travelingCopy(error: Error, canTravel: (value: unknown) => boolean): Error {
  const copy = Object.create(Object.getPrototypeOf(error)) as Error;
  for (const key of Object.keys(error)) {
    const value = (error as unknown as Record<string, unknown>)[key];
    if (canTravel(value)) (copy as unknown as Record<string, unknown>)[key] = value;
  }
  define(copy, "message", error.message);
  if (error.stack !== undefined) define(copy, "stack", error.stack);
  if (error.cause !== undefined && canTravel(error.cause)) define(copy, "cause", error.cause);
  if (Object.hasOwn(error, "name")) define(copy, "name", error.name);
  return copy;
}

function define(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, configurable: true, enumerable: false });
}
