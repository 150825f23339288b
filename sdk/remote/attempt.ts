// Running one attempt of a task in a process that did not submit it: a worker thread, or a
// worker Lambda. Both find the task by name in its module, check its code identity, read the
// arguments with the caller's serializer and run the function in a run scope of their own.

import type { TaskDefinition } from "../engine/definitions.js";
import { loadStoredValues } from "../engine/inputs.js";
import { CodeMismatchError, SquallError } from "../errors.js";
import { RunLogger } from "../logging/logger.js";
import { registeredTask, whenRegistered, whenStalled } from "../registry.js";
import type { FlowRunInfo, RunScope, TaskRunInfo } from "../runs.js";
import { importOnce, travelingCopy } from "../serialization/errors.js";
import { defaultSerializer, jsonSerializer, type Serializer } from "../serialization/serializer.js";
import { openStore } from "../storage/open-store.js";
import type { ResultStore, StoreLocator } from "../storage/result-store.js";
import { within } from "../within.js";

/** What names an attempt and its run, as it travels to the process that runs it. */
export interface AttemptSpec {
  readonly module: string;
  readonly task: string;
  readonly codeHash: string;
  /** Whether a code mismatch fails the run, as the caller's task (or its variant) says. */
  readonly verifySource: boolean;
  /** The name of the serializer the caller chose for this run. */
  readonly serializer: string;
  readonly logPrints: boolean;
  readonly flowRun: { readonly id: string; readonly name: string; readonly flowName: string };
  readonly taskRun: {
    readonly id: string;
    readonly name: string;
    readonly attempts: number;
    readonly tags: readonly string[];
  };
}

const BUILT_IN: Record<string, Serializer> = { default: defaultSerializer, json: jsonSerializer };

/** A serializer known by name everywhere. */
export function builtInSerializer(name: string): Serializer | undefined {
  return BUILT_IN[name];
}

/** How long a module may take to define a task while its evaluation is still under way. */
const FIND_TASK_MS = 60_000;

/**
 * The task, as soon as its module has defined it. A module that awaits a flow call at top
 * level never finishes evaluating in a worker (the call never settles there), but its tasks
 * are defined before that call.
 */
export async function findTask(module: string, name: string): Promise<TaskDefinition> {
  const known = registeredTask(name); // every attempt after the first: no promises, no timer
  if (known) return known;
  const loaded = importOnce(module).then(() => registeredTask(name));
  // A module stopped at a top-level flow call defines nothing more: a task it has not defined by
  // then (once what else was loading has had its turn) never will be.
  const stalled = whenStalled(module)
    .then(() => new Promise((resolve) => setImmediate(resolve)))
    .then(() => registeredTask(name) ?? Promise.reject(new SquallError(definedTooLate(module, name))));
  const def = await within(Promise.race([loaded, whenRegistered(name, FIND_TASK_MS), stalled]), FIND_TASK_MS);
  if (!def) throw new SquallError(`The worker found no task named '${name}' in ${module}.`);
  return def;
}

function definedTooLate(module: string, name: string): string {
  return (
    `Task '${name}' is defined in ${module} after a flow call the module awaits at top level. A worker ` +
    "imports the module to find its tasks and does not run its flows, so the module stops at that call " +
    `there and '${name}' is never defined. Define the task before the first flow call at top level, or ` +
    "move the flow calls into a function the module does not await at top level: " +
    "`if (import.meta.main) await main();` or `main().catch(console.error);`."
  );
}

/** Refuses to run code the caller did not mean: the worker's module differs from the caller's. */
export function verifyCode(def: TaskDefinition, spec: AttemptSpec): void {
  if (spec.verifySource && def.codeHash !== spec.codeHash) {
    throw new CodeMismatchError(
      `The worker's code for task '${spec.task}' differs from the caller's: redeploy (or restart the workers) so both run the same code, or set \`verifySource: false\` on the task.`,
    );
  }
}

/** The serializer the caller named: a built-in, or the task's own (the only custom one a worker has). */
export function serializerFor(spec: AttemptSpec, own: Serializer | undefined): Serializer {
  const named = BUILT_IN[spec.serializer] ?? (own?.name === spec.serializer ? own : undefined);
  if (named) return named;
  throw new SquallError(
    `The worker does not know the serializer '${spec.serializer}': set it on task '${spec.task}' itself, so the worker has it too.`,
  );
}

const STORED_MARK = Buffer.from('["Stored",');

/**
 * The arguments, with upstream results passed by reference loaded here (not through the caller),
 * from the stores `open` gives.
 */
export async function decodeArguments(
  bytes: Uint8Array,
  serializer: Serializer,
  open: (locator: StoreLocator) => Promise<ResultStore> = openStore,
): Promise<unknown[]> {
  const args = serializer.deserialize(bytes) as unknown[];
  if (!Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).includes(STORED_MARK)) return args;
  return (await loadStoredValues(args, (stored) => stored.load(serializer, open))) as unknown[];
}

/**
 * An error as it travels back: always with the default serializer, which carries its class,
 * cause and fields; a field that cannot travel is dropped, keeping the class and message.
 */
export function encodeError(error: Error): Uint8Array {
  try {
    return defaultSerializer.serialize(error, "error");
  } catch {
    return defaultSerializer.serialize(travelingCopy(error, canTravel), "error");
  }
}

function canTravel(value: unknown): boolean {
  try {
    defaultSerializer.serialize(value);
    return true;
  } catch {
    return false;
  }
}

/** What `getRunContext()` and `getRunLogger()` see inside a remote attempt; built when first asked for. */
const NEVER_ABORTED = new AbortController().signal;

/** The arguments stored at `key` in `store`, which must still be there. */
export async function storedArguments(store: ResultStore, key: string): Promise<Uint8Array> {
  const bytes = await store.get(key);
  if (!bytes) throw new SquallError(`The arguments stored at \`${key}\` are gone.`);
  return bytes;
}

export class RemoteScope implements RunScope {
  readonly spec: AttemptSpec;
  readonly signal: AbortSignal;
  readonly #started = new Date();
  #logger: RunLogger | undefined;

  /** `signal`: aborted at the attempt's deadline; by default never (the attempt ends with its worker). */
  constructor(spec: AttemptSpec, signal: AbortSignal = NEVER_ABORTED) {
    this.spec = spec;
    this.signal = signal;
  }

  get logPrints(): boolean {
    return this.spec.logPrints;
  }

  get flowRun(): FlowRunInfo {
    return {
      ...this.spec.flowRun,
      parentFlowRunId: undefined,
      startTime: undefined,
      endTime: undefined,
      state: { type: "RUNNING", name: "Running", timestamp: this.#started },
    };
  }

  get taskRun(): TaskRunInfo {
    const spec = this.spec;
    return {
      ...spec.taskRun,
      taskName: spec.task,
      flowRunId: spec.flowRun.id,
      startTime: this.#started,
      endTime: undefined,
      state: {
        type: "RUNNING",
        name: spec.taskRun.attempts > 1 ? "Retrying" : "Running",
        timestamp: this.#started,
      },
    };
  }

  get logger(): RunLogger {
    this.#logger ??= new RunLogger({
      flowRunId: this.spec.flowRun.id,
      flowRunName: this.spec.flowRun.name,
      taskRunId: this.spec.taskRun.id,
      taskRunName: this.spec.taskRun.name,
    });
    return this.#logger;
  }
}
