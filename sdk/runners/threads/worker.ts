// The code each worker thread of a ThreadPoolTaskRunner runs: it imports task modules,
// finds tasks by name, and runs the attempts it is sent, one at a time.
import { format } from "node:util";
import { parentPort, workerData } from "node:worker_threads";
import { enterWorkerMode, scopeStorage } from "../../context.js";
import { loadStoredValues } from "../../engine/inputs.js";
import { CodeMismatchError, SquallError, toError } from "../../errors.js";
import { type LevelName, setRecordSink, setThreshold } from "../../logging/config.js";
import { RunLogger } from "../../logging/logger.js";
import { registeredTask, whenRegistered } from "../../registry.js";
import type { FlowRunInfo, RunScope, TaskRunInfo } from "../../runs.js";
import { registerErrorClassesOf, travelingCopy } from "../../serialization/errors.js";
import { defaultSerializer, jsonSerializer, type Serializer } from "../../serialization/serializer.js";
import { resultKey } from "../../storage/keys.js";
import { openStore } from "../../storage/open-store.js";
import type { AttemptMessage, FromWorker, OutcomeMessage, ToWorker, WorkerSetup } from "./protocol.js";
import { transferable } from "./transfer.js";

const port = parentPort;
if (!port) throw new SquallError("The thread worker must run in a worker thread.");
const setup = workerData as WorkerSetup;
const post = (message: FromWorker, transfer?: ArrayBuffer[]) => port.postMessage(message, transfer);

enterWorkerMode();
setThreshold(setup.logThreshold);
setRecordSink((record) => post({ type: "log", record }));
captureConsole();

const queue: AttemptMessage[] = [];
const outbox: OutcomeMessage[] = [];
let draining = false;

port.on("message", (message: ToWorker) => {
  if (message.type === "drop") {
    const dropped = new Set(message.ids);
    for (let i = queue.length - 1; i >= 0; i--) {
      if (dropped.has((queue[i] as AttemptMessage).id)) queue.splice(i, 1);
    }
    return;
  }
  queue.push(...message.attempts);
  if (!draining) void drain();
});

/** How long the loop may run attempts back to back before it lets messages in. */
const YIELD_MS = 1;

async function drain(): Promise<void> {
  draining = true;
  let since = performance.now();
  while (queue.length > 0) {
    const attempt = queue.shift() as AttemptMessage;
    outbox.push(await runAttempt(attempt));
    // Each result goes back when its run finishes, not after the runs queued behind it.
    flush();
    if (performance.now() - since > YIELD_MS) {
      await new Promise(setImmediate); // lets "drop" messages in between attempts
      since = performance.now();
    }
  }
  draining = false;
}

function flush(): void {
  const outcomes = outbox.splice(0);
  post({ type: "outcomes", outcomes }, transferable(outcomes.map((o) => o.bytes)));
}

const imports = new Map<string, Promise<unknown>>();

function importOnce(module: string): Promise<unknown> {
  let loading = imports.get(module);
  if (!loading) {
    loading = import(module);
    imports.set(module, loading);
    // The task module's error classes come back as themselves, once it has loaded.
    loading.then(
      (exports) => registerErrorClassesOf(exports as Record<string, unknown>),
      () => {},
    );
  }
  return loading;
}

/** How long a module may take to define a task while its evaluation is still under way. */
const FIND_TASK_MS = 60_000;

/**
 * The task, as soon as its module has defined it. A module that awaits a flow call at top
 * level never finishes evaluating in a worker (the call never settles there), but its tasks
 * are defined before that call.
 */
async function findTask(module: string, name: string) {
  let timer: NodeJS.Timeout | undefined;
  const loaded = importOnce(module).then(() => registeredTask(name));
  const defined = whenRegistered(name);
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(resolve, FIND_TASK_MS, undefined);
  });
  try {
    const def = await Promise.race([loaded, defined, late]);
    if (!def) throw new SquallError(`The worker found no task named '${name}' in ${module}.`);
    return def;
  } finally {
    clearTimeout(timer);
  }
}

const SERIALIZERS: Record<string, Serializer> = { default: defaultSerializer, json: jsonSerializer };
const NEVER_ABORTED = new AbortController().signal;

async function runAttempt(attempt: AttemptMessage): Promise<OutcomeMessage> {
  try {
    const def = await findTask(attempt.module, attempt.task);
    if (attempt.verifySource && def.codeHash !== attempt.codeHash) {
      throw new CodeMismatchError(
        `The worker's code for task '${attempt.task}' differs from the caller's: redeploy (or restart the workers) so both run the same code, or set \`verifySource: false\` on the task.`,
      );
    }
    const serializer = serializerFor(attempt, def.settings.serializer);
    const args = await readArguments(attempt, serializer);
    if (attempt.timed) post({ type: "started", id: attempt.id }); // the deadline counts from here
    const scope = new WorkerScope(attempt);
    const value = await scopeStorage.run(scope, def.fn as (...args: unknown[]) => unknown, ...args);
    return await completed(attempt, value, serializer);
  } catch (thrown) {
    return failed(attempt, toError(thrown));
  }
}

/** The serializer the caller named: a built-in, or the task's own (the only custom one the worker has). */
function serializerFor(attempt: AttemptMessage, own: Serializer | undefined): Serializer {
  const named = SERIALIZERS[attempt.serializer] ?? (own?.name === attempt.serializer ? own : undefined);
  if (named) return named;
  throw new SquallError(
    `The worker does not know the serializer '${attempt.serializer}': set it on task '${attempt.task}' itself, so the worker has it too.`,
  );
}

async function completed(
  attempt: AttemptMessage,
  value: unknown,
  serializer: Serializer,
): Promise<OutcomeMessage> {
  const bytes = serializer.serialize(value, "result");
  const offload = attempt.offload;
  if (!offload || bytes.byteLength <= offload.aboveBytes) {
    return { id: attempt.id, status: "completed", bytes, stored: undefined, serializer: serializer.name };
  }
  const key = resultKey(attempt.flowRun.id, attempt.taskRun.id);
  await (await openStore(offload.locator)).put(key, bytes);
  const stored = { key, size: bytes.byteLength };
  return { id: attempt.id, status: "completed", bytes: EMPTY, stored, serializer: serializer.name };
}

/** Errors always travel with the default serializer, which carries their class, cause and fields. */
function failed(attempt: AttemptMessage, error: Error): OutcomeMessage {
  const outcome = {
    id: attempt.id,
    status: "failed",
    stored: undefined,
    serializer: defaultSerializer.name,
  } as const;
  try {
    return { ...outcome, bytes: defaultSerializer.serialize(error, "error") };
  } catch {
    // A field holds something that cannot travel: drop such fields, keep the class and message.
    const copy = travelingCopy(error, canTravel);
    return { ...outcome, bytes: defaultSerializer.serialize(copy, "error") };
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

const EMPTY = new Uint8Array(0);
const STORED_MARK = Buffer.from('["Stored",');

/** The attempt's arguments: read from the store when they were offloaded, references loaded. */
async function readArguments(attempt: AttemptMessage, serializer: Serializer): Promise<unknown[]> {
  let bytes = attempt.args;
  if (attempt.argsKey !== undefined && attempt.offload) {
    const stored = await (await openStore(attempt.offload.locator)).get(attempt.argsKey);
    if (!stored) throw new SquallError(`The arguments stored at \`${attempt.argsKey}\` are gone.`);
    bytes = stored;
  }
  const args = serializer.deserialize(bytes) as unknown[];
  // Upstream results passed by reference are loaded here, not through the caller.
  if (!Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).includes(STORED_MARK)) return args;
  return (await loadStoredValues(args, (stored) => stored.load(serializer, openStore))) as unknown[];
}

/** What `getRunContext()` and `getRunLogger()` see inside an attempt; built when first asked for. */
class WorkerScope implements RunScope {
  readonly #attempt: AttemptMessage;
  readonly #started = new Date();
  #logger: RunLogger | undefined;

  constructor(attempt: AttemptMessage) {
    this.#attempt = attempt;
  }

  get signal(): AbortSignal {
    return NEVER_ABORTED; // a cancelled or timed-out attempt ends with its thread
  }

  get logPrints(): boolean {
    return this.#attempt.logPrints;
  }

  get flowRun(): FlowRunInfo {
    return {
      ...this.#attempt.flowRun,
      parentFlowRunId: undefined,
      startTime: undefined,
      endTime: undefined,
      state: { type: "RUNNING", name: "Running", timestamp: this.#started },
    };
  }

  get taskRun(): TaskRunInfo {
    const attempt = this.#attempt;
    return {
      ...attempt.taskRun,
      taskName: attempt.task,
      flowRunId: attempt.flowRun.id,
      startTime: this.#started,
      endTime: undefined,
      state: {
        type: "RUNNING",
        name: attempt.taskRun.attempts > 1 ? "Retrying" : "Running",
        timestamp: this.#started,
      },
    };
  }

  get logger(): RunLogger {
    this.#logger ??= new RunLogger({
      flowRunId: this.#attempt.flowRun.id,
      flowRunName: this.#attempt.flowRun.name,
      taskRunId: this.#attempt.taskRun.id,
      taskRunName: this.#attempt.taskRun.name,
    });
    return this.#logger;
  }
}

/** Console output goes to the caller, in order with the attempt's outcome; with logPrints, to the run logger. */
function captureConsole(): void {
  const methods = { log: "INFO", info: "INFO", debug: "DEBUG", warn: "WARNING", error: "ERROR" } as const;
  for (const method of Object.keys(methods) as (keyof typeof methods)[]) {
    const level: LevelName = methods[method];
    const stream = method === "warn" || method === "error" ? "stderr" : "stdout";
    console[method] = (...args: unknown[]) => {
      const scope = scopeStorage.getStore();
      const text = format(...args);
      if (scope?.logPrints) scope.logger.log(level, text);
      else post({ type: "print", stream, text });
    };
  }
}
