import { scopeStorage } from "../context.js";
import { CancelledError, FlowTimeoutError, SquallError, TaskRunsFailedError, toError } from "../errors.js";
import { newFlowRunId, newFlowRunName, subflowRunId, taskRunId, taskRunIdPrefix } from "../ids.js";
import { RunLogger } from "../logging/logger.js";
import { installPrintCapture } from "../logging/prints.js";
import { emitRunEvent, errorSummary, observed } from "../observe.js";
import { formatDelaySeconds } from "../retry.js";
import { ConcurrentTaskRunner } from "../runners/concurrent.js";
import type { TaskRunnerSession } from "../runners/task-runner.js";
import type { FlowRunInfo, RunScope } from "../runs.js";
import type { Serializer } from "../serialization/serializer.js";
import {
  describeState,
  type FinalState,
  makeState,
  type State,
  type StateName,
  stateTypeOf,
} from "../states.js";
import type { ResultStore } from "../storage/result-store.js";
import type { FlowDefinition, TaskDefinition } from "./definitions.js";
import { collectUpstream, containsFutures, substituteResults } from "./inputs.js";
import { runHooks, TaskRun } from "./task-run.js";

const defaultRunner = new ConcurrentTaskRunner();

/** The final state of a flow run, with the run it belongs to. */
export type FlowRunState<R> = FinalState<R> & { readonly flowRun: FlowRunInfo };

type Child = TaskRun | FlowRun;

/**
 * Who a flow run is, when that is decided outside it: a flow run resumed by a new process keeps
 * the id, name and start time its first start had, and so its task runs' ids too.
 */
export interface FlowRunIdentity {
  readonly id: string;
  readonly name?: string;
  /** When the run first started (ms since epoch). @default now */
  readonly startTime?: number;
}

/**
 * One run of a flow: starts its task runner, runs the flow function in its
 * context, waits for every run it started, and decides the final state.
 */
export class FlowRun<R = unknown> implements FlowRunInfo, RunScope {
  readonly id: string;
  readonly name: string;
  readonly parent: FlowRun | undefined;
  readonly #def: FlowDefinition;
  readonly #controller = new AbortController();
  /** Runs started and not yet final: what the flow waits for, and cancels. */
  readonly #active = new Set<Child>();
  readonly #failed: Child[] = [];
  readonly #taskRunCounts = new Map<string, number>();
  /** Task runs and subflow runs started so far, in call order: their ids follow it. */
  #taskSerial = 0;
  #subflowOrdinal = 0;
  #taskRunIdPrefix: string | undefined;
  /** The flow function's attempt: a retry runs it again (see `retries`). */
  #attempt = 1;
  /** This attempt's task runs by serial, kept only for a flow that retries. */
  #attemptRuns = new Map<number, TaskRun>();
  /** Task runs that completed in earlier attempts, by serial: a retry gets them again at the same call. */
  readonly #kept = new Map<number, TaskRun>();
  readonly #firstStart: number | undefined;
  #idle: (() => void) | undefined;
  #session: TaskRunnerSession | undefined;
  #closed = false;
  #stateName: StateName = "Pending";
  #stateTime = Date.now();
  #startTime = 0;
  #endTime = 0;
  #value: R | undefined;
  #error: Error | undefined;
  #final = false;
  #consumed = false;
  #timeoutError: FlowTimeoutError | undefined;
  #unlink: (() => void)[] = [];
  #aborted: Promise<never> | undefined;
  #logger: RunLogger | undefined;
  readonly #done: Promise<void>;

  constructor(def: FlowDefinition, args: unknown[], parent: FlowRun | undefined, identity?: FlowRunIdentity) {
    this.#def = def;
    this.parent = parent;
    this.id =
      identity?.id ?? (parent ? subflowRunId(parent.#attemptKey, ++parent.#subflowOrdinal) : newFlowRunId());
    this.name = identity?.name ?? def.settings.flowRunName ?? newFlowRunName();
    this.#firstStart = identity?.startTime;
    if (parent) parent.#adopt(this);
    this.#done = this.#run(args);
  }

  // ---- FlowRunInfo and RunScope ----

  get flowName(): string {
    return this.#def.name;
  }

  get parentFlowRunId(): string | undefined {
    return this.parent?.id;
  }

  get flowRun(): FlowRunInfo {
    return this;
  }

  get taskRun(): undefined {
    return undefined;
  }

  get startTime(): Date | undefined {
    return this.#startTime ? new Date(this.#startTime) : undefined;
  }

  get endTime(): Date | undefined {
    return this.#endTime ? new Date(this.#endTime) : undefined;
  }

  get state(): State<R> {
    return makeState<R>(this.#stateName, this.#stateTime, { result: this.#value, error: this.#error });
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get logger(): RunLogger {
    this.#logger ??= new RunLogger({ flowRunId: this.id, flowRunName: this.name });
    return this.#logger;
  }

  get logPrints(): boolean {
    return this.#def.settings.logPrints;
  }

  get persistResult(): boolean {
    return this.#def.settings.persistResult;
  }

  get resultStorage(): ResultStore | undefined {
    return this.#def.settings.resultStorage;
  }

  get serializer(): Serializer | undefined {
    return this.#def.settings.serializer;
  }

  get consumed(): boolean {
    return this.#consumed;
  }

  get failed(): boolean {
    const type = stateTypeOf(this.#stateName);
    return type === "FAILED" || type === "CRASHED";
  }

  // ---- what callers use ----

  /** The flow's return value; throws the error a failed run ended with. */
  async result(): Promise<R> {
    this.#consumed = true;
    await this.#done;
    if (this.#error) throw this.#error;
    return this.#value as R;
  }

  /** The final state, never throwing. */
  async finalState(): Promise<FlowRunState<R>> {
    this.#consumed = true;
    await this.#done;
    return Object.assign(this.state as FinalState<R>, { flowRun: this as FlowRunInfo });
  }

  // ---- what tasks and subflows use ----

  /** The next task run's place in this flow run's call order, from 1. */
  nextTaskSerial(): number {
    this.#taskSerial += 1;
    return this.#taskSerial;
  }

  /** Waits `ms` as a step of the flow: durably where the task runner's session can (see `sleep()`). */
  async sleep(ms: number): Promise<void> {
    const callId = taskRunId(this.taskRunIdPrefix, this.nextTaskSerial());
    const session = this.#session;
    const slept = session?.sleep
      ? session.sleep(callId, ms)
      : new Promise<void>((resolve) => setTimeout(resolve, ms));
    await this.#untilAborted(slept);
  }

  /** What this flow run's task run ids start with: each attempt's differ (a retry's runs are new runs). */
  get taskRunIdPrefix(): string {
    this.#taskRunIdPrefix ??= taskRunIdPrefix(this.#attemptKey);
    return this.#taskRunIdPrefix;
  }

  /** What this attempt's ids derive from. */
  get #attemptKey(): string {
    return this.#attempt === 1 ? this.id : `${this.id}#${this.#attempt}`;
  }

  /** A new task run of this flow run, counted in what the flow waits for. */
  createTaskRun(def: TaskDefinition, args: unknown[]): TaskRun {
    if (this.#closed) {
      throw new SquallError(
        `Task '${def.name}' was started after flow run '${this.name}' finished. Await your runs inside the flow function.`,
      );
    }
    // A retry replays: the run that completed at this call in an earlier attempt, if of this task.
    const kept = this.#kept.get(this.#taskSerial + 1);
    if (kept && kept.taskName === def.name) {
      this.#taskSerial += 1;
      this.#attemptRuns.set(this.#taskSerial, kept);
      return kept;
    }
    const count = this.#taskRunCounts.get(def.name) ?? 0;
    this.#taskRunCounts.set(def.name, count + 1);
    const run = new TaskRun(this, def, args, count);
    this.#active.add(run);
    if (this.#def.settings.retries > 0) this.#attemptRuns.set(this.#taskSerial, run);
    return run;
  }

  /** Hands a run to the flow's task runner; a runner that refuses it (bad arguments) throws. */
  submit(run: TaskRun): void {
    if (run.isFinal) return; // replayed from an earlier attempt
    if (this.#controller.signal.aborted) {
      run.cancel(this.#controller.signal.reason);
      return;
    }
    try {
      (this.#session as TaskRunnerSession).submit(run);
    } catch (error) {
      run.reject(toError(error));
      throw error;
    }
  }

  taskRunSettled(run: Child): void {
    this.#active.delete(run);
    if (run.failed) this.#failed.push(run);
    if (this.#active.size === 0 && this.#idle) {
      const idle = this.#idle;
      this.#idle = undefined;
      idle();
    }
  }

  /** Cancels this flow run (as a child of a cancelled parent). */
  cancel(reason: unknown): void {
    this.#abort(reason);
  }

  #adopt(child: FlowRun): void {
    if (this.#closed) {
      throw new SquallError(
        `Flow '${child.flowName}' was started after flow run '${this.name}' finished. Await subflows inside the flow function.`,
      );
    }
    this.#active.add(child);
  }

  // ---- lifecycle ----

  async #run(args: unknown[]): Promise<void> {
    const settings = this.#def.settings;
    this.#startTime = this.#firstStart ?? Date.now();
    this.#setState("Running", Date.now());
    this.logger.info(`Beginning flow run '${this.name}' for flow '${this.flowName}'`);
    if (settings.logPrints) installPrintCapture();
    this.#linkSignals();
    let error: Error | undefined;
    try {
      const runner = settings.taskRunner ?? defaultRunner;
      this.#throwIfAborted();
      this.#session = await this.#untilAborted(Promise.resolve(runner.start(this)));
      this.#throwIfAborted();
    } catch (thrown) {
      error = toError(thrown);
    }
    let final: { name: StateName; error: Error | undefined };
    for (;;) {
      if (!error) {
        try {
          const fn = this.#def.fn as (...args: unknown[]) => unknown;
          const returned = await this.#untilAborted(Promise.resolve(scopeStorage.run(this, fn, ...args)));
          this.#value = (await this.#untilAborted(this.#resolveReturned(returned))) as R;
        } catch (thrown) {
          error = toError(thrown);
        }
      }
      await this.#whenIdle(); // every run it started, awaited or not, reaches a final state
      final = this.#finalState(error);
      if (final.name !== "Failed" || !this.#session || this.#attempt > settings.retries) break;
      error = await this.#retry(final.error);
    }
    this.#closed = true;
    try {
      await this.#session?.shutdown({ state: final.name, error: final.error });
    } catch (thrown) {
      if (!final.error) final = { name: "Failed", error: toError(thrown) };
    }
    await this.#settle(final);
  }

  /**
   * Gets the flow function ready to run again after a failed attempt: the runs that completed
   * are kept for the calls that make them again, ids and subflow ids start afresh under the next
   * attempt's prefix, and the delay is waited (as a `sleep()`, durable where the runner is).
   * Returns what ended the wait, if anything did (a cancellation).
   */
  async #retry(failure: Error | undefined): Promise<Error | undefined> {
    const settings = this.#def.settings;
    for (const [serial, run] of this.#attemptRuns) {
      if (run.state.type === "COMPLETED") this.#kept.set(serial, run);
    }
    this.#attemptRuns = new Map();
    this.#failed.length = 0;
    this.#value = undefined;
    this.#attempt += 1;
    this.#taskSerial = 0;
    this.#subflowOrdinal = 0;
    this.#taskRunIdPrefix = undefined;
    const delay = settings.retryDelayMs;
    this.logger.warn(
      `Flow run '${this.name}' attempt ${this.#attempt - 1} failed with ${failure?.name ?? "Error"}: ${failure?.message ?? "no error given"}. Retry ${this.#attempt - 1}/${settings.retries}${delay > 0 ? ` in ${formatDelaySeconds(delay / 1000)} s` : ""}; the ${this.#kept.size} task runs that completed give their results again.`,
    );
    this.#setState("AwaitingRetry", Date.now());
    try {
      if (delay > 0) await this.sleep(delay);
      this.#throwIfAborted();
    } catch (thrown) {
      return toError(thrown);
    }
    this.#setState("Running", Date.now());
    return undefined;
  }

  /** Futures in the return value stand for their results; their failure is the flow's. */
  async #resolveReturned(value: unknown): Promise<unknown> {
    if (!containsFutures(value)) return value;
    const upstream = new Map<TaskRun, boolean>();
    collectUpstream(value, upstream);
    await Promise.all([...upstream.keys()].map((run) => run.wait()));
    for (const [run, allowed] of upstream) {
      const state = run.state;
      if (!allowed && "error" in state) {
        run.outcome(); // handled: it fails the flow
        throw state.error;
      }
    }
    // Results kept by reference in a store are read now: the flow returns values.
    const results = new Map<TaskRun, unknown>();
    await Promise.all(
      [...upstream.keys()].map(async (run) => {
        results.set(run, "error" in run.state ? run.outcome() : await run.result());
      }),
    );
    return substituteResults(value, new Map(), (run) => results.get(run));
  }

  /** The state the flow run ends in, given what its function threw (if anything). */
  #finalState(thrown: Error | undefined): { name: StateName; error: Error | undefined } {
    let error = thrown;
    const signal = this.#controller.signal;
    let name: StateName;
    if (signal.aborted && signal.reason === this.#timeoutError) {
      name = "TimedOut";
      error = this.#timeoutError;
    } else if (signal.aborted) {
      name = "Cancelled";
      const why =
        signal.reason instanceof Error ? signal.reason.message : String(signal.reason ?? "cancelled");
      error = new CancelledError(`Flow run '${this.name}' was cancelled: ${why}`);
    } else if (error) {
      name = "Failed";
    } else {
      const unhandled = this.#failed.filter((run) => !run.consumed);
      if (unhandled.length > 0) {
        name = "Failed";
        error = new TaskRunsFailedError(
          this.name,
          unhandled.map((run) => ({ id: run.id, name: run.name, error: errorOf(run.state) })),
        );
      } else name = "Completed";
    }
    return { name, error };
  }

  async #settle({ name, error }: { name: StateName; error: Error | undefined }): Promise<void> {
    if (error) this.#value = undefined;
    this.#error = error;
    this.#final = true;
    this.#endTime = Date.now();
    this.#setState(name, this.#endTime);
    for (const unlink of this.#unlink) unlink();
    const state = this.state as FinalState<R>;
    const seconds = ((this.#endTime - this.#startTime) / 1000).toFixed(3);
    if (error && name !== "Cancelled")
      this.logger.error(`Finished in state ${describeState(state)} after ${seconds} s`);
    else this.logger.info(`Finished in state ${describeState(state)} after ${seconds} s`);
    const settings = this.#def.settings;
    const hooks = error ? (name === "Cancelled" ? [] : settings.onFailure) : settings.onCompletion;
    if (hooks.length > 0)
      await runHooks(hooks, state as FinalState<unknown>, this as FlowRunInfo, this.logger);
    this.parent?.taskRunSettled(this);
    // A top-level flow that failed with nobody awaiting it still fails the process.
    if (error && !this.parent && !this.#consumed) process.exitCode = 1;
  }

  #linkSignals(): void {
    const settings = this.#def.settings;
    const sources = [this.parent?.signal, settings.signal].filter((s): s is AbortSignal => s !== undefined);
    for (const source of sources) {
      if (source.aborted) {
        this.#abort(source.reason);
        continue;
      }
      const onAbort = () => this.#abort(source.reason);
      source.addEventListener("abort", onAbort, { once: true });
      this.#unlink.push(() => source.removeEventListener("abort", onAbort));
    }
    if (settings.timeoutMs !== undefined) {
      const seconds = settings.timeoutMs / 1000;
      const timer = setTimeout(() => {
        this.#timeoutError = new FlowTimeoutError(
          `Flow run '${this.name}' exceeded its timeout of ${seconds} seconds.`,
        );
        this.#abort(this.#timeoutError);
      }, settings.timeoutMs);
      this.#unlink.push(() => clearTimeout(timer));
    }
  }

  #abort(reason: unknown): void {
    if (this.#final || this.#controller.signal.aborted) return;
    this.#controller.abort(reason ?? new CancelledError("cancelled"));
    for (const run of [...this.#active]) run.cancel(this.#controller.signal.reason);
  }

  #throwIfAborted(): void {
    const signal = this.#controller.signal;
    if (signal.aborted) throw signal.reason;
  }

  /** Races `promise` against cancellation, which ends waiting on user code at once. */
  #untilAborted<V>(promise: Promise<V>): Promise<V> {
    this.#aborted ??= new Promise<never>((_, reject) => {
      const signal = this.#controller.signal;
      if (signal.aborted) reject(signal.reason);
      else signal.addEventListener("abort", () => reject(signal.reason), { once: true });
    });
    this.#aborted.catch(() => {}); // observed through the race below
    return Promise.race([promise, this.#aborted]);
  }

  #whenIdle(): Promise<void> {
    if (this.#active.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#idle = resolve;
    });
  }

  #setState(name: StateName, at: number): void {
    this.#stateName = name;
    this.#stateTime = at;
    if (observed()) {
      emitRunEvent({
        kind: "flow",
        id: this.id,
        name: this.name,
        definition: this.flowName,
        flowRunId: this.parentFlowRunId,
        state: name,
        time: Date.now(),
        error: errorSummary(this.#error),
      });
    }
  }
}

function errorOf(state: State<unknown>): Error {
  return "error" in state ? state.error : new SquallError(`Run ended in state ${state.name}`);
}
