import type { CacheKeyContext } from "../cache.js";
import { now, toEpochMs } from "../clock.js";
import { scopeStorage } from "../context.js";
import {
  CacheKeyError,
  CancelledError,
  ResultTimeoutError,
  type RunRef,
  SquallError,
  TaskTimeoutError,
  toError,
  UpstreamFailedError,
} from "../errors.js";
import { checkTimeoutMs, type ResultOptions, type TaskFuture } from "../futures.js";
import { taskRunId } from "../ids.js";
import { isEnabled } from "../logging/config.js";
import { RunLogger } from "../logging/logger.js";
import { emitRunEvent, errorSummary, IN_PROCESS, observed } from "../observe.js";
import { formatDelaySeconds, retryDelayMs } from "../retry.js";
import type {
  AttemptRan,
  RetryPolicy,
  RunnableTaskRun,
  TaskAttempt,
  TaskInvoker,
} from "../runners/task-runner.js";
import type { RunScope, TaskRunInfo } from "../runs.js";
import { defaultSerializer, type Serializer } from "../serialization/serializer.js";
import { StoredValue } from "../serialization/stored.js";
import { userStack } from "../stack-frames.js";
import { describeState, makeState, type State, type StateName, stateTypeOf } from "../states.js";
import { defaultResultStore } from "../storage/default-store.js";
import { cacheKey as cacheStoreKey, resultKey } from "../storage/keys.js";
import { openStore } from "../storage/open-store.js";
import type { ResultStore } from "../storage/result-store.js";
import type { TaskDefinition } from "./definitions.js";
import type { FlowRun } from "./flow-run.js";
import { collectUpstream, containsFutures, loadStoredValues, substituteResults } from "./inputs.js";

const NO_ARGS: unknown[] = [];

/** A cached result as stored: when it stops being valid (ms since epoch, or null), and the value. */
interface CacheRecord {
  readonly expiresAt: number | null;
  readonly result: unknown;
}

/** An error a run failed with carries the run's name and id. */
export type TaskRunError = Error & { readonly taskRunName?: string; readonly taskRunId?: string };

/**
 * One run of a task: its future, its record, and its lifecycle (upstream inputs,
 * cache, attempts, retries, timeout, final state). State lives in plain fields;
 * state objects are built only when someone reads them.
 */
export class TaskRun<T = unknown> implements TaskFuture<T>, TaskRunInfo, RunScope, RunnableTaskRun {
  readonly flowRun: FlowRun;
  // The id and name are built when asked for: most runs never need them.
  readonly #serial: number;
  readonly #index: number;
  readonly #def: TaskDefinition;
  #args: unknown[];
  #waitFor: readonly unknown[] | undefined;
  #needsInputs: boolean;
  #stateName: StateName = "Pending";
  #stateTime: number;
  #final = false;
  #value: T | undefined;
  #error: Error | undefined;
  #scheduledTime = 0;
  #attempts = 0;
  #startTime = 0;
  #endTime = 0;
  #waiters: (() => void)[] | undefined;
  #consumed = false;
  /** Identifies the attempt whose outcome still counts; bumped whenever an attempt ends. */
  #token = 0;
  #timer: NodeJS.Timeout | undefined;
  #controller: AbortController | undefined;
  #signal: AbortSignal | undefined;
  #logger: RunLogger | undefined;
  #cacheKey: string | undefined;
  /** Runs attempts elsewhere (another thread or process); unset, they run here. */
  #invoker: TaskInvoker | undefined;
  /** The attempt running elsewhere now, to stop at its deadline or on cancellation. */
  #remote: TaskAttempt | undefined;
  /** Arguments serialized when they were checked at submission, reused by the first remote attempt. */
  #argBytes: Uint8Array | undefined;
  /** Where and when the last attempt ran elsewhere, as its worker reported. */
  #ran: AttemptRan | undefined;

  constructor(flowRun: FlowRun, def: TaskDefinition, args: unknown[], index: number) {
    this.#serial = flowRun.nextTaskSerial();
    this.#index = index;
    this.flowRun = flowRun;
    this.#def = def;
    this.#args = args;
    this.#waitFor = def.waitFor;
    this.#needsInputs = def.waitFor !== undefined || containsFutures(args);
    this.#stateTime = now();
  }

  // ---- TaskRunInfo and RunScope ----

  get id(): string {
    return taskRunId(this.flowRun.taskRunIdPrefix, this.#serial);
  }

  get name(): string {
    return `${this.#def.name}-${this.#index}`;
  }

  get taskName(): string {
    return this.#def.name;
  }

  get taskRunId(): string {
    return this.id;
  }

  get taskRunName(): string {
    return this.name;
  }

  get flowRunId(): string {
    return this.flowRun.id;
  }

  get tags(): readonly string[] {
    return this.#def.settings.tags;
  }

  get taskRun(): TaskRunInfo {
    return this;
  }

  get attempts(): number {
    return this.#attempts;
  }

  get startTime(): Date | undefined {
    return this.#startTime ? new Date(toEpochMs(this.#startTime)) : undefined;
  }

  get endTime(): Date | undefined {
    return this.#endTime ? new Date(toEpochMs(this.#endTime)) : undefined;
  }

  get state(): State<T> {
    return makeState<T>(this.#stateName, toEpochMs(this.#stateTime), {
      result: this.#value,
      error: this.#error,
      scheduledTime: toEpochMs(this.#scheduledTime),
    });
  }

  get timeoutMs(): number | undefined {
    return this.#def.settings.timeoutMs;
  }

  get pool(): string | undefined {
    return this.#def.settings.pool;
  }

  get retryPolicy(): RetryPolicy {
    const { retries, retryDelay, retryJitterFactor } = this.#def.settings;
    return { taskName: this.#def.name, retries, delay: retryDelay, jitterFactor: retryJitterFactor };
  }

  get logPrints(): boolean {
    return this.#def.settings.logPrints ?? this.flowRun.logPrints;
  }

  get logger(): RunLogger {
    this.#logger ??= new RunLogger({
      flowRunId: this.flowRun.id,
      flowRunName: this.flowRun.name,
      taskRunId: this.id,
      taskRunName: this.name,
    });
    return this.#logger;
  }

  /** Aborts on flow cancellation and, when the task has a timeout, at the current attempt's deadline. */
  get signal(): AbortSignal {
    return this.#signal ?? this.flowRun.signal;
  }

  /** True once the flow consumed this run's outcome (a failure is then the flow's to handle). */
  get consumed(): boolean {
    return this.#consumed;
  }

  /** Whether the run has reached a final state. */
  get isFinal(): boolean {
    return this.#final;
  }

  get failed(): boolean {
    const type = stateTypeOf(this.#stateName);
    return type === "FAILED" || type === "CRASHED";
  }

  // ---- TaskFuture ----

  result(options?: ResultOptions & { raiseOnFailure?: true }): Promise<T>;
  result(options: ResultOptions & { raiseOnFailure: false }): Promise<T | Error>;
  result(options: ResultOptions = {}): Promise<T | Error> {
    const { timeoutMs } = options;
    try {
      checkTimeoutMs(timeoutMs, "result");
    } catch (error) {
      return Promise.reject(error);
    }
    this.#consumed = true;
    const raise = options.raiseOnFailure ?? true;
    if (this.#final) return this.#settledResult(raise);
    return new Promise<T | Error>((resolve, reject) => {
      if (timeoutMs === undefined) {
        this.#addWaiter(() => this.#deliver(resolve, reject, raise));
        return;
      }
      const timer = setTimeout(() => {
        reject(
          new ResultTimeoutError(
            `Task run '${this.name}' did not finish within ${timeoutMs} ms; it is still ${this.#stateName}.`,
          ),
        );
      }, timeoutMs);
      this.#addWaiter(() => {
        clearTimeout(timer);
        this.#deliver(resolve, reject, raise);
      });
    });
  }

  #deliver(resolve: (value: T | Error) => void, reject: (error: Error) => void, raise: boolean): void {
    if (stateTypeOf(this.#stateName) === "COMPLETED") {
      if (this.#value instanceof StoredValue) this.#loadValue(this.#value).then(resolve, reject);
      else resolve(this.#value as T);
    } else if (raise) reject(this.#error as Error);
    else resolve(this.#error as Error);
  }

  wait(timeoutMs?: number): Promise<State<T>> {
    try {
      checkTimeoutMs(timeoutMs, "wait");
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#final || timeoutMs === undefined) return this.#whenFinal().then(() => this.state);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(this.state), timeoutMs);
      this.#addWaiter(() => {
        clearTimeout(timer);
        resolve(this.state);
      });
    });
  }

  /** A result kept in a store by reference, read from it (once) when asked for. */
  #loadValue(stored: StoredValue): Promise<T> {
    return stored.load(this.#serializer(), openStore) as Promise<T>;
  }

  /**
   * The result, or the error in its place; for `allowFailure` inputs. A result kept by
   * reference stays a reference here: a downstream run in another process loads it itself.
   */
  outcome(): T | Error {
    this.#consumed = true;
    return this.#stateName === "Completed" || this.#stateName === "Cached"
      ? (this.#value as T)
      : (this.#error as Error);
  }

  // ---- lifecycle, driven by the runner ----

  execute(invoker?: TaskInvoker): Promise<void> | undefined {
    if (this.#final) return undefined;
    this.#invoker = invoker;
    if (this.flowRun.signal.aborted) return this.cancel(this.flowRun.signal.reason);
    if (this.#needsInputs) return this.#awaitInputs();
    return this.#attempt();
  }

  /** Ends the run as Cancelled now, whatever it was doing. */
  cancel(reason: unknown): undefined {
    if (this.#final) return undefined;
    this.#token += 1;
    const why = reason instanceof Error ? reason.message : String(reason ?? "cancelled");
    const error = new CancelledError(`Task run '${this.name}' was cancelled: ${why}`);
    this.#stopRemote(error);
    this.#settle("Cancelled", undefined, error);
    return undefined;
  }

  #stopRemote(reason: Error): void {
    const remote = this.#remote;
    if (!remote) return;
    this.#remote = undefined;
    this.#invoker?.stop(remote, reason);
  }

  async #awaitInputs(): Promise<void> {
    const upstream = new Map<TaskRun, boolean>();
    collectUpstream(this.#args, upstream);
    if (this.#waitFor) collectUpstream(this.#waitFor, upstream);
    const pending: Promise<void>[] = [];
    for (const run of upstream.keys()) if (!run.#final) pending.push(run.#whenFinal());
    if (pending.length > 0) await Promise.all(pending);
    if (this.#final) return;
    const failed: RunRef[] = [];
    for (const [run, allowed] of upstream) {
      if (allowed) run.#consumed = true;
      else if (stateTypeOf(run.#stateName) !== "COMPLETED") failed.push({ id: run.id, name: run.name });
    }
    if (failed.length > 0) {
      return this.#settle("Failed", undefined, new UpstreamFailedError(failed));
    }
    this.#args = substituteResults(this.#args) as unknown[];
    const byReference = [...upstream.keys()].some((run) => run.#value instanceof StoredValue);
    if (byReference && (!this.#invoker || this.#serializer() !== defaultSerializer)) {
      // Runs here (or a serializer that cannot carry references) need values, not references.
      this.#args = (await loadStoredValues(this.#args, (v) =>
        v.load(this.#serializer(), openStore),
      )) as unknown[];
      if (this.#final) return;
    }
    this.#waitFor = undefined;
    this.#needsInputs = false;
    return this.#attempt();
  }

  #attempt(): Promise<void> | undefined {
    if (this.flowRun.signal.aborted) return this.cancel(this.flowRun.signal.reason);
    this.#attempts += 1;
    const at = now();
    if (this.#attempts === 1) this.#startTime = at;
    this.#setState(this.#attempts === 1 ? "Running" : "Retrying", at);
    if (this.#attempts === 1 && this.#def.settings.cachePolicy) return this.#checkCache();
    return this.#invoke();
  }

  async #checkCache(): Promise<void> {
    const settings = this.#def.settings;
    try {
      const context: CacheKeyContext = {
        taskName: this.#def.name,
        taskSource: this.#def.sourceHash,
        args: this.#args,
        flowRunId: this.flowRun.id,
      };
      let key: string | undefined;
      try {
        key = settings.cachePolicy?.computeKey(context);
      } catch (keyError) {
        // As in Prefect, a key that cannot be computed (an input that cannot be hashed, a
        // cacheKeyFn that throws) costs the cache, not the run: it runs uncached and stores nothing.
        // squall's own error says all there is to say; a cacheKeyFn's keeps its stack.
        const reason = keyError instanceof CacheKeyError ? keyError.message : keyError;
        this.logger.warn("Could not compute the cache key, so this run is not cached:", reason);
      }
      if (key !== undefined && !settings.refreshCache) {
        const bytes = await this.#store().get(cacheStoreKey(key));
        if (this.#final) return;
        if (bytes !== undefined) {
          const record = this.#serializer().deserialize(bytes) as CacheRecord;
          if (record.expiresAt === null || record.expiresAt > Date.now()) {
            const persist = settings.persistResult ?? this.flowRun.persistResult;
            if (persist) return this.#storeResult(record.result as T, true, "Cached");
            return this.#settle("Cached", record.result as T);
          }
        }
      }
      this.#cacheKey = key;
    } catch (error) {
      // A cache the run cannot read (or a record it cannot decode) fails the run rather than
      // hide a broken store; a retry would meet it again.
      return this.#settle("Failed", undefined, toError(error));
    }
    return this.#invoke();
  }

  #invoke(): Promise<void> | undefined {
    this.#token += 1;
    const token = this.#token;
    if (this.#invoker) return this.#invokeRemotely(this.#invoker, token);
    const timeoutMs = this.#def.settings.timeoutMs;
    let scope: RunScope = this;
    let started = 0;
    if (timeoutMs !== undefined) {
      // Each attempt gets its own signal, so code left over from a timed-out attempt
      // keeps seeing its own (aborted) signal while the next attempt runs.
      started = Date.now();
      this.#controller = new AbortController();
      this.#signal = AbortSignal.any([this.flowRun.signal, this.#controller.signal]);
      scope = new AttemptScope(this, this.#signal);
    }
    let out: unknown;
    try {
      out = scopeStorage.run(scope, this.#def.fn as (...args: unknown[]) => unknown, ...this.#args);
    } catch (error) {
      return this.#onError(error, token);
    }
    if (isThenable(out)) {
      if (timeoutMs !== undefined) this.#timer = setTimeout(TaskRun.#onTimeout, timeoutMs, this, token);
      out.then(
        (value) => this.#onValue(value as T, token),
        (error) => this.#onError(error, token),
      );
      return this.#whenFinal();
    }
    // A synchronous function cannot be interrupted; it still fails if it overran its deadline.
    if (timeoutMs !== undefined && Date.now() - started > timeoutMs) {
      return this.#onError(this.#timeoutError(), token);
    }
    return this.#onValue(out as T, token);
  }

  #invokeRemotely(invoker: TaskInvoker, token: number): Promise<void> {
    let argBytes = this.#argBytes;
    this.#argBytes = undefined;
    const attempt: TaskAttempt = {
      taskRun: this,
      flowRun: this.flowRun,
      task: { module: this.#def.module, name: this.#def.name, codeHash: this.#def.codeHash },
      args: this.#args,
      takeArgBytes: () => {
        const bytes = argBytes;
        argBytes = undefined;
        return bytes;
      },
      serializer: this.#serializer(),
      verifySource: this.#def.settings.verifySource,
      retryPolicy: this.retryPolicy,
      logPrints: this.logPrints,
      timeoutMs: this.#def.settings.timeoutMs,
      pool: this.#def.settings.pool,
      started: () => {
        // The deadline counts from when the attempt runs, not from when it queued; a fleet
        // that retries on its own enforces deadlines itself.
        const timeoutMs = this.#def.settings.timeoutMs;
        if (invoker.retriesElsewhere || timeoutMs === undefined) return;
        if (token !== this.#token || this.#final || this.#timer) return;
        this.#timer = setTimeout(TaskRun.#onTimeout, timeoutMs, this, token);
      },
    };
    this.#remote = attempt;
    invoker.invoke(attempt).then(
      (outcome) => {
        if (this.#remote === attempt) this.#remote = undefined;
        if (token === this.#token) {
          if (outcome.attempts !== undefined) this.#attempts = outcome.attempts;
          if (outcome.ran) this.#ran = outcome.ran;
        }
        if (outcome.status === "completed") {
          this.#onValue(outcome.value as T, token);
        } else if (outcome.status === "crashed") {
          if (this.#endAttempt(token)) this.#settle("Crashed", undefined, outcome.error);
        } else if (!invoker.retriesElsewhere) {
          this.#onError(outcome.error, token);
        } else if (this.#endAttempt(token)) {
          this.#fail(outcome.error); // the fleet already spent the retries
        }
      },
      (error) => {
        if (this.#endAttempt(token)) this.#settle("Crashed", undefined, toError(error));
      },
    );
    return this.#whenFinal();
  }

  /**
   * Serializes the arguments now, so that a value that cannot cross to another process is
   * rejected when the task is submitted, naming where it sits. Futures among the arguments
   * stand in as their ids here; their results are checked when they arrive.
   */
  checkArguments(serializer: Serializer = this.#serializer()): void {
    if (!this.#needsInputs) {
      this.#argBytes = serializer.serialize(this.#args, "args");
      return;
    }
    serializer.serialize(substituteResults(this.#args, new Map(), placeholder), "args");
  }

  /** Ends a run that could not be submitted; the caller got the error, so the flow need not report it. */
  reject(error: Error): void {
    this.#consumed = true;
    this.#settle("Failed", undefined, error);
  }

  static #onTimeout(run: TaskRun, token: number): void {
    if (token !== run.#token || run.#final) return;
    run.#timer = undefined;
    const error = run.#timeoutError();
    run.#controller?.abort(error);
    run.#stopRemote(error);
    run.#onError(error, token);
  }

  #timeoutError(): TaskTimeoutError {
    const seconds = (this.#def.settings.timeoutMs ?? 0) / 1000;
    return new TaskTimeoutError(`Task run '${this.name}' exceeded its timeout of ${seconds} seconds.`);
  }

  /** True when `token`'s attempt still counts; it then stops counting. */
  #endAttempt(token: number): boolean {
    if (token !== this.#token || this.#final) return false;
    this.#token += 1;
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    return true;
  }

  #onValue(value: T, token: number): Promise<void> | undefined {
    if (!this.#endAttempt(token)) return undefined;
    const persist = this.#def.settings.persistResult ?? this.flowRun.persistResult;
    if (!persist && this.#cacheKey === undefined) {
      return this.#settle("Completed", value);
    }
    return this.#storeResult(value, persist, "Completed");
  }

  async #storeResult(result: T, persist: boolean, name: "Completed" | "Cached"): Promise<void> {
    const key = resultKey(this.flowRun.id, this.id);
    const store = this.#store();
    // A result a worker already stored under this run's key, in this store, is persisted as it is.
    const storedHere =
      result instanceof StoredValue &&
      result.key === key &&
      JSON.stringify(result.locator) === JSON.stringify(store.locator);
    const cache = this.#cacheKey !== undefined && name === "Completed";
    try {
      const serializer = this.#serializer();
      if ((persist && !storedHere) || cache) {
        const value = result instanceof StoredValue ? await this.#loadValue(result) : result;
        if (persist && !storedHere) await store.put(key, serializer.serialize(value, "result"));
        if (cache) {
          const ttl = this.#def.settings.cacheTtlMs;
          const record: CacheRecord = {
            expiresAt: ttl === undefined ? null : Date.now() + ttl,
            result: value,
          };
          await store.put(cacheStoreKey(this.#cacheKey as string), serializer.serialize(record, "result"));
        }
      }
    } catch (error) {
      const cause = toError(error);
      return this.#settle(
        "Failed",
        undefined,
        new SquallError(`Could not store the result of task run '${this.name}': ${cause.message}`, { cause }),
      );
    }
    return this.#settle(name, result);
  }

  #onError(thrown: unknown, token: number): Promise<void> | undefined {
    if (!this.#endAttempt(token)) return undefined;
    const error = toError(thrown);
    if (this.flowRun.signal.aborted) return this.cancel(this.flowRun.signal.reason);
    if (this.#attempts > this.#def.settings.retries) return this.#fail(error);
    const condition = this.#def.settings.retryCondition;
    if (!condition) return this.#scheduleRetry(error);
    let verdict: boolean | Promise<boolean>;
    try {
      verdict = condition(error);
    } catch (conditionError) {
      this.logger.warn("`retryCondition` threw, so the run will not be retried:", conditionError);
      return this.#fail(error);
    }
    if (!isThenable(verdict)) return verdict ? this.#scheduleRetry(error) : this.#fail(error);
    return verdict.then(
      (retry) => (this.#final ? undefined : retry ? this.#scheduleRetry(error) : this.#fail(error)),
      (conditionError) => {
        this.logger.warn("`retryCondition` threw, so the run will not be retried:", conditionError);
        return this.#final ? undefined : this.#fail(error);
      },
    );
  }

  #scheduleRetry(error: Error): Promise<void> | undefined {
    const settings = this.#def.settings;
    let delayMs: number;
    try {
      delayMs = retryDelayMs(settings.retryDelay, this.#attempts, settings.retryJitterFactor);
    } catch (delayError) {
      return this.#fail(toError(delayError));
    }
    this.logger.info(
      `Attempt ${this.#attempts} failed with ${error.name}: ${error.message}. Retry ${this.#attempts}/${settings.retries} starts in ${formatDelaySeconds(delayMs / 1000)}.`,
    );
    if (delayMs === 0) {
      // As in Prefect, a retry with no delay goes from Running straight to Retrying. It starts on
      // the next turn, not in this call: a task that keeps failing at once would deepen the stack.
      setImmediate(TaskRun.#retryNow, this);
      return this.#whenFinal();
    }
    const at = now();
    this.#scheduledTime = at + delayMs;
    this.#setState("AwaitingRetry", at);
    this.#timer = setTimeout(TaskRun.#retryNow, delayMs, this);
    return this.#whenFinal();
  }

  static #retryNow(run: TaskRun): void {
    run.#timer = undefined;
    if (!run.#final) run.#attempt();
  }

  #fail(error: Error): Promise<void> | undefined {
    return this.#settle(error instanceof TaskTimeoutError ? "TimedOut" : "Failed", undefined, error);
  }

  #setState(name: StateName, at: number): void {
    this.#stateName = name;
    this.#stateTime = at;
    if (observed()) {
      const ran = this.#final ? this.#ran : undefined;
      emitRunEvent({
        kind: "task",
        id: this.id,
        name: this.name,
        definition: this.#def.name,
        flowRunId: this.flowRun.id,
        state: name,
        time: Date.now(),
        attempts: this.#attempts,
        error: errorSummary(this.#error),
        worker: ran?.worker ?? (this.#invoker || this.#attempts === 0 ? undefined : IN_PROCESS),
        startedAt: ran?.startedAt,
        endedAt: ran?.endedAt,
      });
    }
  }

  /** Ends the run; returns a promise only while its hooks still run. */
  #settle(name: StateName, value: T | undefined, error?: Error): Promise<void> | undefined {
    if (this.#final) return undefined;
    this.#final = true;
    const at = now();
    this.#value = value;
    this.#error = error;
    this.#setState(name, at);
    this.#endTime = at;
    // What only the run's attempts needed goes with them: a finished run may be kept (its future)
    // by the hundred thousand.
    this.#args = NO_ARGS;
    this.#waitFor = undefined;
    this.#ran = undefined; // told in the final state's event, above
    this.#invoker = undefined;
    this.#remote = undefined;
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (error) tagWithRun(error, this);
    this.#logOutcome();
    const settings = this.#def.settings;
    const hooks = error ? (name === "Cancelled" ? [] : settings.onFailure) : settings.onCompletion;
    if (hooks.length === 0) {
      this.#notify();
      return undefined;
    }
    return runHooks(hooks, this.state as never, this, this.logger).then(() => this.#notify());
  }

  #notify(): void {
    this.flowRun.taskRunSettled(this);
    const waiters = this.#waiters;
    this.#waiters = undefined;
    if (waiters) for (const waiter of waiters) waiter();
  }

  #logOutcome(): void {
    const error = this.#error;
    if (!error) {
      if (isEnabled("DEBUG")) this.logger.debug(`Finished in state ${this.#stateName}()`);
      return;
    }
    const state = describeState(this.state);
    if (this.#stateName === "Cancelled" || error instanceof UpstreamFailedError) {
      this.logger.info(`Finished in state ${state}`);
    } else {
      this.logger.error(`Finished in state ${state}\n${userStack(error.stack ?? "")}`);
    }
  }

  #settledResult(raise: boolean): Promise<T | Error> {
    if (stateTypeOf(this.#stateName) === "COMPLETED") {
      return this.#value instanceof StoredValue
        ? this.#loadValue(this.#value)
        : Promise.resolve(this.#value as T);
    }
    const error = this.#error as Error;
    return raise ? Promise.reject(error) : Promise.resolve(error);
  }

  #whenFinal(): Promise<void> {
    if (this.#final && this.#waiters === undefined) return Promise.resolve();
    return new Promise((resolve) => this.#addWaiter(resolve));
  }

  #addWaiter(waiter: () => void): void {
    if (this.#final && this.#waiters === undefined) {
      waiter();
      return;
    }
    if (this.#waiters) this.#waiters.push(waiter);
    else this.#waiters = [waiter];
  }

  #store(): ResultStore {
    return this.#def.settings.resultStorage ?? this.flowRun.resultStorage ?? defaultResultStore;
  }

  #serializer() {
    return this.#def.settings.serializer ?? this.flowRun.serializer ?? defaultSerializer;
  }
}

/** The run context of one attempt of a task with a timeout: the run, with that attempt's signal. */
class AttemptScope implements RunScope {
  readonly #run: TaskRun;
  readonly signal: AbortSignal;

  constructor(run: TaskRun, signal: AbortSignal) {
    this.#run = run;
    this.signal = signal;
  }

  get flowRun(): FlowRun {
    return this.#run.flowRun;
  }

  get taskRun(): TaskRunInfo {
    return this.#run;
  }

  get logger(): RunLogger {
    return this.#run.logger;
  }

  get logPrints(): boolean {
    return this.#run.logPrints;
  }
}

function placeholder(future: TaskRun): string {
  return `<result of ${future.name}>`;
}

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === "object" || typeof value === "function") &&
    typeof (value as PromiseLike<unknown>).then === "function"
  );
}

/** Lets `result()` callers see which run an error came from, keeping its class and message. */
function tagWithRun(error: Error, run: TaskRun): void {
  if (Object.hasOwn(error, "taskRunName") || !Object.isExtensible(error)) return;
  Object.defineProperties(error, {
    taskRunName: { value: run.name, configurable: true },
    taskRunId: { value: run.id, configurable: true },
  });
}

/** Runs hooks one after another; a hook that throws is logged and does not change the state. */
export async function runHooks<S, I>(
  hooks: readonly ((state: S, info: I) => void | Promise<void>)[],
  state: S,
  info: I,
  logger: RunLogger,
): Promise<void> {
  for (const hook of hooks) {
    try {
      await hook(state, info);
    } catch (error) {
      logger.error(`Hook '${hook.name || "anonymous"}' failed:`, error);
    }
  }
}
