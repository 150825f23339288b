import { type CacheKeyContext, CachePolicy } from "./cache.js";
import { InvalidArgumentError } from "./errors.js";
import type { RetryDelay } from "./retry.js";
import type { TaskRunner } from "./runners/task-runner.js";
import type { FlowRunInfo, TaskRunInfo } from "./runs.js";
import type { Serializer } from "./serialization/serializer.js";
import type { FinalState } from "./states.js";
import type { ResultStore } from "./storage/result-store.js";

export type TaskHook<R> = (state: FinalState<R>, taskRun: TaskRunInfo) => void | Promise<void>;
export type FlowHook<R> = (state: FinalState<R>, flowRun: FlowRunInfo) => void | Promise<void>;

export interface TaskOptions<R = unknown> {
  /** @default the function's name */
  readonly name?: string;
  readonly description?: string;
  readonly tags?: readonly string[];
  /** Extra attempts after a failure. @default 0 */
  readonly retries?: number;
  /** Seconds before each retry. @default 0 */
  readonly retryDelaySeconds?: RetryDelay;
  /** Spreads each delay by up to this fraction either way. @default 0 */
  readonly retryJitterFactor?: number;
  /** Retries only errors for which this returns true. @default every error */
  readonly retryCondition?: (error: Error) => boolean | Promise<boolean>;
  /** Fails the run with `TaskTimeoutError` at the deadline and aborts its signal. @default none */
  readonly timeoutSeconds?: number;
  /**
   * The worker pool that runs it on `LambdaTaskRunner` (the Squall construct's `pools`, the local
   * environment's): lowercase letters, digits and `-`, starting with a letter, up to 32. Other
   * runners run it as any task. @default the default pool
   */
  readonly pool?: string;
  /** Turns caching on: runs with the same key share one result. @default no caching */
  readonly cachePolicy?: CachePolicy;
  /** Turns caching on with a key of your own; `undefined` means "do not cache this run". */
  readonly cacheKeyFn?: (context: CacheKeyContext, args: readonly unknown[]) => string | undefined;
  /** How long a cached result stays valid. @default forever */
  readonly cacheExpirationSeconds?: number;
  /** Runs even on a cache hit and stores the new result. @default false */
  readonly refreshCache?: boolean;
  /** Stores the result under `runs/<flowRunId>/results/<taskRunId>`. @default the flow's setting, else false */
  readonly persistResult?: boolean;
  /** Where persisted and cached results go. @default the flow's store, else one in memory */
  readonly resultStorage?: ResultStore;
  /** How arguments and results are encoded to cross processes or be stored. @default the flow's, else `defaultSerializer` */
  readonly serializer?: Serializer;
  /**
   * Fails a run in another process (a worker thread, a Lambda) whose code for this task differs
   * from the caller's, rather than run code the caller did not mean. @default true
   */
  readonly verifySource?: boolean;
  /** Sends `console.log` and friends inside the task to its run logger. @default the flow's setting */
  readonly logPrints?: boolean;
  readonly onCompletion?: TaskHook<R> | readonly TaskHook<R>[];
  readonly onFailure?: TaskHook<R> | readonly TaskHook<R>[];
}

export interface FlowOptions<R = unknown> {
  /** @default the function's name */
  readonly name?: string;
  readonly description?: string;
  /** Runs this flow's submitted tasks. @default a `ConcurrentTaskRunner` */
  readonly taskRunner?: TaskRunner;
  /** Fails the run with `FlowTimeoutError` at the deadline and cancels what is still running. */
  readonly timeoutSeconds?: number;
  /** Default for the flow's tasks, and routes the flow function's own prints. @default false */
  readonly logPrints?: boolean;
  /** Default for the flow's tasks. @default false */
  readonly persistResult?: boolean;
  /** Default store for the flow's tasks. @default one in memory */
  readonly resultStorage?: ResultStore;
  /** Default serializer for the flow's tasks. @default `defaultSerializer` */
  readonly serializer?: Serializer;
  /** Cancels the flow run when it aborts: queued runs never start, running ones see their signal abort. */
  readonly signal?: AbortSignal;
  /** Names the flow run. @default a generated name such as `witty-otter` */
  readonly flowRunName?: string;
  /**
   * Times a failed flow run runs its flow function again (not when cancelled or timed out). A
   * retry replays: task runs that completed in an earlier attempt, at the same place in the call
   * order and of the same task, give their results again without running. @default 0
   */
  readonly retries?: number;
  /** Seconds before each retry. @default 0 */
  readonly retryDelaySeconds?: number;
  readonly onCompletion?: FlowHook<R> | readonly FlowHook<R>[];
  readonly onFailure?: FlowHook<R> | readonly FlowHook<R>[];
}

/** Task options, checked and in the form the engine uses on every run. */
export interface TaskSettings {
  readonly tags: readonly string[];
  readonly retries: number;
  readonly retryDelay: RetryDelay;
  readonly retryJitterFactor: number;
  readonly retryCondition: ((error: Error) => boolean | Promise<boolean>) | undefined;
  readonly timeoutMs: number | undefined;
  readonly pool: string | undefined;
  readonly cachePolicy: CachePolicy | undefined;
  readonly cacheTtlMs: number | undefined;
  readonly refreshCache: boolean;
  readonly persistResult: boolean | undefined;
  readonly resultStorage: ResultStore | undefined;
  readonly serializer: Serializer | undefined;
  readonly verifySource: boolean;
  readonly logPrints: boolean | undefined;
  readonly onCompletion: readonly TaskHook<unknown>[];
  readonly onFailure: readonly TaskHook<unknown>[];
}

const TASK_KEYS = new Set<string>([
  "name",
  "description",
  "tags",
  "retries",
  "retryDelaySeconds",
  "retryJitterFactor",
  "retryCondition",
  "timeoutSeconds",
  "pool",
  "cachePolicy",
  "cacheKeyFn",
  "cacheExpirationSeconds",
  "refreshCache",
  "persistResult",
  "resultStorage",
  "serializer",
  "verifySource",
  "logPrints",
  "onCompletion",
  "onFailure",
]);

const FLOW_KEYS = new Set<string>([
  "name",
  "description",
  "taskRunner",
  "timeoutSeconds",
  "logPrints",
  "persistResult",
  "resultStorage",
  "serializer",
  "signal",
  "flowRunName",
  "retries",
  "retryDelaySeconds",
  "onCompletion",
  "onFailure",
]);

export function taskSettings(options: TaskOptions<unknown>): TaskSettings {
  assertKnownKeys(options, TASK_KEYS, "task");
  const retries = options.retries ?? 0;
  if (!Number.isInteger(retries) || retries < 0) {
    throw invalid("retries", "an integer >= 0", retries);
  }
  const retryDelay = options.retryDelaySeconds ?? 0;
  checkRetryDelay(retryDelay);
  checkOptionalString(options.description, "description");
  const jitter = options.retryJitterFactor ?? 0;
  if (typeof jitter !== "number" || !Number.isFinite(jitter) || jitter < 0) {
    throw invalid("retryJitterFactor", "a number >= 0", jitter);
  }
  checkOptionalFunction(options.retryCondition, "retryCondition");
  if (options.cachePolicy !== undefined && !(options.cachePolicy instanceof CachePolicy)) {
    throw invalid("cachePolicy", "a CachePolicy, such as `cachePolicies.inputs`", options.cachePolicy);
  }
  checkOptionalFunction(options.cacheKeyFn, "cacheKeyFn");
  if (options.cachePolicy && options.cacheKeyFn) {
    throw new InvalidArgumentError(
      "Pass either `cachePolicy` or `cacheKeyFn`, not both: `cacheKeyFn` is a policy.",
    );
  }
  const keyFn = options.cacheKeyFn;
  const cachePolicy = keyFn
    ? new CachePolicy((context) => keyFn(context, context.args))
    : options.cachePolicy;
  const ttl = optionalSeconds(options.cacheExpirationSeconds, "cacheExpirationSeconds");
  if (ttl !== undefined && !cachePolicy) {
    throw new InvalidArgumentError(
      "`cacheExpirationSeconds` needs caching turned on: pass `cachePolicy` (e.g. `cachePolicies.inputs`) or `cacheKeyFn`.",
    );
  }
  return {
    tags: checkTags(options.tags),
    retries,
    retryDelay,
    retryJitterFactor: jitter,
    retryCondition: options.retryCondition,
    timeoutMs: optionalSeconds(options.timeoutSeconds, "timeoutSeconds", true),
    pool: checkPool(options.pool),
    cachePolicy,
    cacheTtlMs: ttl,
    refreshCache: optionalBoolean(options.refreshCache, "refreshCache") ?? false,
    persistResult: optionalBoolean(options.persistResult, "persistResult"),
    resultStorage: checkStore(options.resultStorage),
    serializer: checkSerializer(options.serializer),
    verifySource: optionalBoolean(options.verifySource, "verifySource") ?? true,
    logPrints: optionalBoolean(options.logPrints, "logPrints"),
    onCompletion: hooks(options.onCompletion, "onCompletion") as TaskHook<unknown>[],
    onFailure: hooks(options.onFailure, "onFailure") as TaskHook<unknown>[],
  };
}

/** Flow options, checked. */
export interface FlowSettings {
  readonly taskRunner: TaskRunner | undefined;
  readonly timeoutMs: number | undefined;
  readonly logPrints: boolean;
  readonly persistResult: boolean;
  readonly resultStorage: ResultStore | undefined;
  readonly serializer: Serializer | undefined;
  readonly signal: AbortSignal | undefined;
  readonly flowRunName: string | undefined;
  readonly retries: number;
  readonly retryDelayMs: number;
  readonly onCompletion: readonly FlowHook<unknown>[];
  readonly onFailure: readonly FlowHook<unknown>[];
}

export function flowSettings(options: FlowOptions<unknown>): FlowSettings {
  assertKnownKeys(options, FLOW_KEYS, "flow");
  checkOptionalString(options.description, "description");
  const runner = options.taskRunner;
  if (runner !== undefined && typeof (runner as Partial<TaskRunner>)?.start !== "function") {
    throw invalid("taskRunner", "a TaskRunner, such as `new ConcurrentTaskRunner()`", runner);
  }
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw invalid("signal", "an AbortSignal", options.signal);
  }
  if (
    options.flowRunName !== undefined &&
    (typeof options.flowRunName !== "string" || !options.flowRunName)
  ) {
    throw invalid("flowRunName", "a non-empty string", options.flowRunName);
  }
  return {
    taskRunner: runner,
    timeoutMs: optionalSeconds(options.timeoutSeconds, "timeoutSeconds", true),
    logPrints: optionalBoolean(options.logPrints, "logPrints") ?? false,
    persistResult: optionalBoolean(options.persistResult, "persistResult") ?? false,
    resultStorage: checkStore(options.resultStorage),
    serializer: checkSerializer(options.serializer),
    signal: options.signal,
    flowRunName: options.flowRunName,
    retries: flowRetries(options.retries),
    retryDelayMs: optionalSeconds(options.retryDelaySeconds, "retryDelaySeconds", false) ?? 0,
    onCompletion: hooks(options.onCompletion, "onCompletion") as FlowHook<unknown>[],
    onFailure: hooks(options.onFailure, "onFailure") as FlowHook<unknown>[],
  };
}

function flowRetries(retries: unknown): number {
  if (retries === undefined) return 0;
  if (typeof retries !== "number" || !Number.isInteger(retries) || retries < 0) {
    throw invalid("retries", "an integer >= 0", retries);
  }
  return retries;
}

/** Splits `task(fn)` / `task(options, fn)` (and the same for flows) into options and function. */
export function definitionArgs<O extends object, F extends (...args: never[]) => unknown>(
  kind: "task" | "flow",
  first: O | F,
  second: F | undefined,
): [O, F] {
  if (typeof first === "function") return [{} as O, first];
  if (typeof second === "function") return [first, second];
  const lone = second === undefined && (typeof first !== "object" || first === null);
  throw new InvalidArgumentError(
    lone
      ? `Expected ${kind}() to get a function, got \`${show(first)}\``
      : `Expected ${kind}() to get a function after its options, got \`${show(second)}\``,
  );
}

export function checkName(name: unknown, kind: "task" | "flow"): string {
  if (typeof name !== "string" || name.length === 0) {
    throw new InvalidArgumentError(
      `A ${kind} needs a name: pass a named function (${kind}(function myName() {...})) or \`{ name: "myName" }\`, got \`${String(name)}\``,
    );
  }
  return name;
}

/** Refuses an option not in `known`, naming the known ones (a misspelt option would else do nothing). */
export function assertKnownKeys(options: object, known: ReadonlySet<string>, kind: string): void {
  if (typeof options !== "object" || options === null) {
    throw new InvalidArgumentError(`Expected ${kind} options to be an object, got \`${String(options)}\``);
  }
  for (const key of Object.keys(options)) {
    if (!known.has(key)) {
      throw new InvalidArgumentError(
        `Unknown ${kind} option \`${key}\`. Known options: ${[...known].join(", ")}.`,
      );
    }
  }
}

/** The longest timer Node keeps, in whole seconds (2^31 - 1 ms); a longer one fires at once. */
const MAX_TIMER_SECONDS = 2_147_483;

function checkRetryDelay(delay: unknown): void {
  if (typeof delay === "function") return;
  if (Array.isArray(delay)) {
    delay.forEach((seconds, i) => {
      checkDelaySeconds(seconds, `retryDelaySeconds[${i}]`);
    });
  } else if (typeof delay === "number") {
    checkDelaySeconds(delay, "retryDelaySeconds");
  } else {
    throw invalid(
      "retryDelaySeconds",
      "a number of seconds >= 0, an array of them (one per retry, the last repeating), or a function of the retry number such as `exponentialBackoff(1)`",
      delay,
    );
  }
}

function checkDelaySeconds(seconds: unknown, name: string): void {
  if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds < 0) {
    throw invalid(name, "a number >= 0", seconds);
  }
  if (seconds > MAX_TIMER_SECONDS) throw tooLong(name, seconds);
}

function tooLong(name: string, seconds: number): InvalidArgumentError {
  return new InvalidArgumentError(
    `Expected \`${name}\` to be at most ${MAX_TIMER_SECONDS} seconds (about 24.8 days, the longest timer Node keeps), got \`${seconds}\``,
  );
}

function optionalSeconds(value: unknown, name: string, positive = false): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || (positive && value === 0)) {
    throw invalid(name, positive ? "a number > 0" : "a number >= 0", value);
  }
  // A deadline is a timer; an expiry is only compared with the clock.
  if (positive && value > MAX_TIMER_SECONDS) throw tooLong(name, value);
  return value * 1000;
}

function optionalBoolean(value: unknown, name: string): boolean | undefined {
  if (value === undefined || typeof value === "boolean") return value;
  throw invalid(name, "a boolean", value);
}

function checkOptionalString(value: unknown, name: string): void {
  if (value !== undefined && typeof value !== "string") throw invalid(name, "a string", value);
}

function checkOptionalFunction(value: unknown, name: string): void {
  if (value !== undefined && typeof value !== "function") throw invalid(name, "a function", value);
}

/** What a worker pool's name may be: it names a stack's resources and outputs. */
export const POOL_NAME = /^[a-z][a-z0-9-]{0,31}$/;

function checkPool(pool: unknown): string | undefined {
  if (pool === undefined) return undefined;
  if (typeof pool !== "string" || !POOL_NAME.test(pool)) {
    throw invalid(
      "pool",
      "a pool name (lowercase letters, digits and `-`, starting with a letter, up to 32)",
      pool,
    );
  }
  return pool;
}

function checkTags(tags: unknown): readonly string[] {
  if (tags === undefined) return [];
  if (!Array.isArray(tags) || tags.some((tag) => typeof tag !== "string")) {
    throw invalid("tags", "an array of strings", tags);
  }
  return Object.freeze([...tags]);
}

function checkStore(store: unknown): ResultStore | undefined {
  if (store === undefined) return undefined;
  const s = store as Partial<ResultStore>;
  if (typeof s.get !== "function" || typeof s.put !== "function" || typeof s.create !== "function") {
    throw invalid("resultStorage", "a ResultStore, such as `new FileResultStore(dir)`", store);
  }
  return store as ResultStore;
}

function checkSerializer(serializer: unknown): Serializer | undefined {
  if (serializer === undefined) return undefined;
  const s = serializer as Partial<Serializer>;
  if (
    typeof s.serialize !== "function" ||
    typeof s.deserialize !== "function" ||
    typeof s.name !== "string"
  ) {
    throw invalid("serializer", "a Serializer, such as `defaultSerializer` or `jsonSerializer`", serializer);
  }
  return serializer as Serializer;
}

function hooks(value: unknown, name: string): readonly unknown[] {
  if (value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  list.forEach((hook, i) => {
    if (typeof hook !== "function")
      throw invalid(Array.isArray(value) ? `${name}[${i}]` : name, "a function", hook);
  });
  return list;
}

function invalid(name: string, expected: string, got: unknown): InvalidArgumentError {
  return new InvalidArgumentError(`Expected \`${name}\` to be ${expected}, got \`${show(got)}\``);
}

function show(value: unknown): string {
  if (typeof value === "function") return "a function";
  if (Array.isArray(value)) return `[${value.map(show).join(", ")}]`;
  if (typeof value === "object" && value !== null) return value.constructor?.name ?? "object";
  return String(value);
}
