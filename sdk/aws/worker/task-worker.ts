import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { format } from "node:util";
import { scopeStorage } from "../../context.js";
import type { TaskDefinition } from "../../engine/definitions.js";
import {
  CodeMismatchError,
  InvalidArgumentError,
  MessageRefusedError,
  SquallError,
  TaskTimeoutError,
  toError,
} from "../../errors.js";
import { type LogRecord, setRecordSink } from "../../logging/config.js";
import { captureConsole, streamOf } from "../../logging/console-capture.js";
import { mapLimit } from "../../map-limit.js";
import type { TaskSettings } from "../../options.js";
import { registeredTask, whenRegistered } from "../../registry.js";
import {
  type AttemptSpec,
  decodeArguments,
  encodeError,
  findTask,
  RemoteScope,
  serializerFor,
  storedArguments,
  verifyCode,
} from "../../remote/attempt.js";
import { retryDelayMs } from "../../retry.js";
import type { Serializer } from "../../serialization/serializer.js";
import { resultKey, runPrefix } from "../../storage/keys.js";
import type { ResultStore, StoreLocator } from "../../storage/result-store.js";
import type { SqsQueue } from "../queue.js";
import { authenticate } from "../wire/authenticate.js";
import {
  type Outcome,
  type Payload,
  parseValue,
  type TaskMessage,
  TaskMessageSchema,
  type TaskRecord,
  WIRE_VERSION,
} from "../wire/messages.js";
import { packMessages, SQS_MAX_BYTES, SQS_MAX_DELAY_SECONDS } from "../wire/pack.js";
import { asPayload, inlineBytes } from "../wire/payload.js";
import { Rejections } from "../wire/rejections.js";
import { type RunKey, RunKeys } from "../wire/run-key.js";
import { type Channel, SEAL_BYTES, seal } from "../wire/seal.js";
import { sqsSafeJson } from "../wire/sqs-text.js";
import { confinedOpener, isUnder, localModuleRefusal, refuseModule } from "./confinement.js";
import { recordStart } from "./deaths.js";
import { diedOutcome, malformedOutcomes, skippedOutcome, stalledOutcome } from "./outcomes.js";
import { retryLine } from "./retry-line.js";
import { WORKER_ID } from "./worker-id.js";

/** An SQS event as Lambda delivers it (the fields this worker reads). */
export interface SqsEvent {
  readonly Records: readonly {
    readonly messageId: string;
    /** Lambda gives it; with it, a worker can delete what it handled before the batch ends. */
    readonly receiptHandle?: string;
    readonly body: string;
    readonly attributes?: { readonly ApproximateReceiveCount?: string; readonly SenderId?: string };
  }[];
}

/** Lambda's partial batch response: the records to deliver again. */
export interface BatchResponse {
  readonly batchItemFailures: { readonly itemIdentifier: string }[];
}

export interface TaskWorkerOptions {
  /** Where retries go back to, delayed. */
  readonly tasks: SqsQueue;
  /** Where outcomes go, for the coordinator. */
  readonly completions: SqsQueue;
  /** Where results too large for a message go, under the run's result key. */
  readonly store: ResultStore;
  /** Results up to this many bytes travel inline in the outcome. @default 64 KiB */
  readonly inlineBytes?: number;
  /** Task runs of one invocation run at once, up to this many (their awaits overlap). @default 64 */
  readonly concurrency?: number;
  /**
   * The source modules a deployed bundle was built from: project-relative path → the hash of
   * the file as `moduleHash` computes it. Their tasks are found by name in the bundle.
   */
  readonly bundled?: Readonly<Record<string, string>>;
  /**
   * Where a worker without a bundle (the local environment's) may import task modules from: the
   * project's source files, outside node_modules. @default process.cwd()
   */
  readonly projectRoot?: string;
  /**
   * Times a suspect run may be started alone and die with its worker before it ends Crashed
   * (see `deaths.ts`); also how often a run the bucket failed is sent back. @default 3
   */
  readonly maxDeaths?: number;
  /** How long a run the bucket failed waits before it is tried again. @default 5 */
  readonly stallDelaySeconds?: number;
}

/** The bucket failed a run's arguments or result (after the SDK's retries): not the task's fault. */
class StorageUnavailableError extends SquallError {
  constructor(cause: unknown) {
    super(`The bucket could not be reached: ${toError(cause).message}`, { cause });
  }
}

const unavailable = (error: unknown): never => {
  throw new StorageUnavailableError(error);
};

/** A store whose failures are the bucket's (`StorageUnavailableError`), told apart from the task's. */
class FailingApart implements ResultStore {
  readonly #store: ResultStore;
  constructor(store: ResultStore) {
    this.#store = store;
  }
  get locator(): StoreLocator | undefined {
    return this.#store.locator;
  }
  put(key: string, value: Uint8Array): Promise<void> {
    return this.#store.put(key, value).catch(unavailable);
  }
  get(key: string): Promise<Uint8Array | undefined> {
    return this.#store.get(key).catch(unavailable);
  }
  exists(key: string): Promise<boolean> {
    return this.#store.exists(key).catch(unavailable);
  }
  list(prefix: string): Promise<string[]> {
    return this.#store.list(prefix).catch(unavailable);
  }
  create(key: string, value: Uint8Array): Promise<boolean> {
    return this.#store.create(key, value).catch(unavailable);
  }
}

/** How long a warm worker trusts what it learned of a flow run's cancellation. */
const CANCEL_CHECK_MS = 1_000;

type Entry = Outcome["logs"][number];
type Parsed =
  | { ok: true; value: TaskMessage }
  | { ok: false; flowRunId: string; json: unknown; reason: string };

/** The keys of the flow runs a batch's messages were signed for: what the worker signs with in turn. */
type BatchKeys = ReadonlyMap<string, RunKey>;

function signFor(keys: BatchKeys, flowRunId: string, channel: Channel, body: string): string {
  const runKey = keys.get(flowRunId);
  if (!runKey) throw new Error(`No key for flow run ${flowRunId} in this batch.`); // a bug, not a message
  return seal(runKey.key, channel, body);
}

/**
 * The worker function's core: runs each task run of each message by name, with its deadline,
 * capturing its console output and log lines, and reports one outcome per attempt to the
 * completion queue. A failed attempt with retries left goes back to the task queue, delayed,
 * so retries never pass through the caller. A message that does not fit its schema, or names
 * a task this worker does not have, becomes Failed outcomes with the reason, never a failed batch.
 *
 * @example
 * const worker = createTaskWorker({ tasks, completions, store });
 * export const handler = (event: SqsEvent) => worker.handle(event);
 */
export function createTaskWorker(options: TaskWorkerOptions) {
  const store = new FailingApart(options.store);
  // Stored arguments are read from this bucket only, through this very store.
  const own = options.store.locator?.kind === "s3" ? options.store.locator : undefined;
  const ownBucket = own?.prefix ? undefined : own?.bucket;
  const logs = new Map<string, Entry[]>();
  captureConsole((method, args, scope) => {
    const stream = streamOf(method);
    const text = format(...args);
    const buffer = scope?.taskRun ? logs.get(scope.taskRun.id) : undefined;
    if (buffer) buffer.push({ stream, text });
    else (stream === "stdout" ? process.stdout : process.stderr).write(`${text}\n`);
  });
  setRecordSink((record: LogRecord) => {
    const buffer = record.taskRunId ? logs.get(record.taskRunId) : undefined;
    if (buffer) buffer.push(record);
    else process.stderr.write(`${JSON.stringify(record)}\n`);
  });

  async function runRecord(
    message: TaskMessage,
    record: TaskRecord,
  ): Promise<{ outcome: Outcome; retry?: number } | { unavailable: Error }> {
    const entries: Entry[] = [];
    logs.set(record.taskRunId, entries);
    const base = {
      flowRunId: message.flowRunId,
      taskRunId: record.taskRunId,
      attempt: record.attempt,
      /** When the function was called; before that, when the worker took the run up. */
      startedAt: Date.now(),
      logs: entries,
    };
    let def: TaskDefinition | undefined;
    try {
      const spec: AttemptSpec = {
        module: record.module ?? "",
        task: record.task,
        codeHash: record.codeHash,
        verifySource: record.verifySource ?? true,
        serializer: record.serializer,
        logPrints: record.logPrints,
        flowRun: { id: message.flowRunId, name: message.flowRunName, flowName: message.flowName },
        taskRun: {
          id: record.taskRunId,
          name: record.taskRunName,
          attempts: record.attempt,
          tags: record.tags,
        },
      };
      if (!record.module)
        throw new SquallError(`Task '${record.task}' came without the module that defines it.`);
      const found = await taskFor(record, spec);
      def = found;
      const serializer = serializerFor(spec, found.settings.serializer);
      const args = await decodeArguments(
        await payloadBytes(record.args, message.flowRunId),
        serializer,
        confinedOpener(store, ownBucket, message.flowRunId),
      );
      // Loading the task's module and its arguments is the worker's time, not the run's.
      base.startedAt = Date.now();
      const value = await withDeadline(
        spec,
        found.fn as (...args: unknown[]) => unknown,
        args,
        record.timeoutMs,
      );
      const payload = await encodeResult(
        value,
        serializer,
        message.flowRunId,
        record.taskRunId,
        record.attempt,
      );
      return {
        outcome: { ...base, status: "completed", serializer: serializer.name, payload, endedAt: Date.now() },
      };
    } catch (thrown) {
      if (thrown instanceof StorageUnavailableError) return { unavailable: thrown };
      let error = toError(thrown);
      let retry: number | undefined;
      try {
        retry = def ? await retryDelaySeconds(def.settings, record, error) : undefined;
      } catch (refused) {
        // A delay SQS cannot hold: the run fails, saying why it was not retried.
        error = new SquallError(`${toError(refused).message} It failed with: ${error.message}`, {
          cause: error,
        });
      }
      const payload = asPayload(encodeError(error));
      const status = retry === undefined ? "failed" : "retrying";
      if (retry !== undefined) {
        const retries = record.retry?.retries ?? def?.settings.retries ?? 0;
        entries.push(retryLine(message, record, error, retries, retry));
      }
      return { outcome: { ...base, status, serializer: "default", payload, endedAt: Date.now() }, retry };
    } finally {
      logs.delete(record.taskRunId);
    }
  }

  async function encodeResult(
    value: unknown,
    serializer: Serializer,
    flowRunId: string,
    taskRunId: string,
    attempt: number,
  ): Promise<Payload> {
    const bytes = serializer.serialize(value, "result");
    if (bytes.byteLength > (options.inlineBytes ?? 64 * 1024)) {
      // A key of its own per execution: a run delivered twice (or a message replayed) never
      // overwrites the value an outcome already recorded points at.
      const key = `${resultKey(flowRunId, taskRunId)}-${attempt}-${randomBytes(4).toString("hex")}`;
      await store.put(key, bytes);
      return { key, size: bytes.byteLength };
    }
    return asPayload(bytes);
  }

  async function payloadBytes(payload: Payload, flowRunId: string): Promise<Uint8Array> {
    if (!("key" in payload)) return inlineBytes(payload) as Uint8Array;
    if (!isUnder(payload.key, runPrefix(flowRunId))) {
      throw new MessageRefusedError(
        `Refused to read arguments at ${JSON.stringify(payload.key.slice(0, 200))}: a worker reads a run's arguments only under its flow run's prefix ${runPrefix(flowRunId)}. Nothing was read.`,
      );
    }
    return storedArguments(store, payload.key);
  }

  /**
   * The task a record names. In a deployed bundle the caller's module path does not exist:
   * a module the bundle was built from is matched by its path, its task found by name, and
   * the caller's code hash checked against the hash of the source the bundle was built from.
   */
  async function taskFor(record: TaskRecord, spec: AttemptSpec): Promise<TaskDefinition> {
    const module = record.module as string;
    const bundledHash = bundledSourceHash(options.bundled, module);
    if (options.bundled && bundledHash === undefined) {
      refuseModule(
        module,
        record.task,
        "a deployed worker runs only tasks of the modules its bundle was built from",
      );
    }
    if (bundledHash === undefined) {
      const refusal = localModuleRefusal(module, options.projectRoot ?? process.cwd());
      if (refusal) refuseModule(module, record.task, refusal);
      const def = await findTask(module, record.task);
      verifyCode(def, spec);
      return def;
    }
    const def = registeredTask(record.task) ?? (await whenRegistered(record.task, FIND_TASK_MS));
    if (!def)
      throw new SquallError(`The worker's bundle has no task named '${record.task}' (from ${module}).`);
    if (spec.verifySource && bundledHash !== record.codeHash) {
      throw new CodeMismatchError(
        `The worker's code for task '${record.task}' differs from the caller's: redeploy so both run the same code, or set \`verifySource: false\` on the task.`,
      );
    }
    return def;
  }

  /**
   * Each flow run's key, read once per flow run per second by a warm worker: it checks the
   * run's messages and says whether the run was cancelled (so a cancellation reaches workers
   * within that second, for one lookup that the run's cancellation check took anyway).
   */
  const runKeys = new RunKeys((key) => options.store.get(key), { refreshMs: CANCEL_CHECK_MS });
  const rejections = new Rejections("worker");

  type Item = SqsEvent["Records"][number];
  const maxDeaths = options.maxDeaths ?? 3;
  interface Handled {
    outcomes: Outcome[];
    retries: { record: TaskRecord; delay: number; message: TaskMessage }[];
    /** Runs the bucket failed (not the task): sent back, or given up on after `maxDeaths` times. */
    stalled: { record: TaskRecord; message: TaskMessage; error: Error }[];
  }

  /** Runs the messages' task runs, all at once up to the concurrency limit; outcomes in message order. */
  async function runMessages(
    items: readonly { item: Item; parsed: Parsed }[],
    keys: BatchKeys,
  ): Promise<Handled> {
    const retries: Handled["retries"] = [];
    const stalled: Handled["stalled"] = [];
    const work: (() => Promise<void>)[] = [];
    const outcomes = items.map(({ item, parsed }) => {
      if (!parsed.ok) {
        // Signed, so its runs are the caller's: each it names fails, saying why.
        const { outcomes, untold } = malformedOutcomes(parsed.flowRunId, parsed.json, parsed.reason);
        if (untold > 0) {
          rejections.reject(
            item,
            "malformed",
            `${parsed.reason}; ${untold} of its task runs name no task run id`,
            outcomes.length > 0 ? `The ${outcomes.length} it names end Failed.` : "It was deleted.",
          );
        }
        return outcomes;
      }
      const message = parsed.value;
      const mine: Outcome[] = new Array(message.tasks.length);
      message.tasks.forEach((record, i) => {
        work.push(async () => {
          if (keys.get(message.flowRunId)?.cancelled) {
            mine[i] = skippedOutcome(message, record);
            return;
          }
          const ran = await runRecord(message, record);
          if ("unavailable" in ran) {
            stalled.push({ record, message, error: ran.unavailable });
            return;
          }
          mine[i] = ran.outcome;
          if (ran.retry !== undefined) retries.push({ record, delay: ran.retry, message });
        });
      });
      return mine;
    });
    await mapLimit(work, options.concurrency ?? 64, (job) => job());
    // A run the bucket failed has no outcome: it is sent back by itself.
    return { outcomes: outcomes.flat().filter((outcome) => outcome !== undefined), retries, stalled };
  }

  /**
   * Queues the retries and the runs the bucket failed, then sends the outcomes: once they are
   * out, the runs count as handled. A run sent back for the bucket's sake is not a death (the
   * worker lived), so it goes back as a message of its own rather than a batch item failure.
   */
  async function report({ outcomes, retries, stalled }: Handled, keys: BatchKeys): Promise<void> {
    const later = new Map<number, string[]>(); // delay in seconds → bodies, one send for each delay
    const sendLater = (delay: number, message: TaskMessage) => {
      const bodies = later.get(delay) ?? [];
      bodies.push(signFor(keys, message.flowRunId, "tasks", JSON.stringify(message)));
      later.set(delay, bodies);
    };
    for (const { record, delay, message } of retries) {
      sendLater(delay, { ...message, tasks: [{ ...record, attempt: record.attempt + 1 }] });
    }
    const givenUp: Outcome[] = [];
    for (const { record, message, error } of stalled) {
      const stalls = (message.stalls ?? 0) + 1;
      if (stalls >= maxDeaths) givenUp.push(stalledOutcome(message, record, stalls, error));
      else sendLater(options.stallDelaySeconds ?? 5, { ...message, tasks: [record], stalls });
    }
    await Promise.all(
      [...later].map(([delay, bodies]) => options.tasks.send(bodies, { delaySeconds: delay })),
    );
    const all = givenUp.length > 0 ? [...outcomes, ...givenUp] : outcomes;
    if (all.length > 0) await options.completions.send(packOutcomes(all, keys));
  }

  /**
   * Runs a suspect alone, its start recorded first; one that died with its worker `maxDeaths`
   * times before ends Crashed instead.
   */
  async function runSuspect(
    { item, message }: { item: Item; message: TaskMessage },
    keys: BatchKeys,
    comeBack: (items: readonly Item[], what: string, error: unknown) => void,
  ): Promise<void> {
    const record = message.tasks[0] as TaskRecord;
    let deaths: number;
    try {
      deaths = await recordStart(options.store, message.flowRunId, record, maxDeaths);
    } catch (error) {
      comeBack([item], "record the start of a run that may have killed its worker", error);
      return;
    }
    const handled: Handled =
      deaths >= maxDeaths
        ? { outcomes: [diedOutcome(message, record, deaths)], retries: [], stalled: [] }
        : await runMessages([{ item, parsed: { ok: true, value: message } }], keys);
    try {
      await report(handled, keys);
    } catch (error) {
      comeBack([item], "report outcomes", error);
    }
  }

  /** Deletes handled messages now rather than when the batch ends (best effort: repeats are dropped). */
  async function deleteDone(items: readonly Item[]): Promise<void> {
    const handles = items.flatMap(({ receiptHandle }) => (receiptHandle ? [receiptHandle] : []));
    if (handles.length > 0) await options.tasks.delete(handles).catch(() => {});
  }

  return {
    /**
     * Handles one batch. A message delivered again may hold a run that kills its worker, so
     * runs of a message received before (or sent back as suspects) are handled apart: a message
     * of several is split into messages of one run each; a batch runs at most one suspect,
     * alone, after the rest of the batch has been reported, and sends other suspects back as
     * messages of their own. So a killer takes no other run down with it more than once, and a
     * run started alone `maxDeaths` times, dying each time, ends Crashed (deaths are recorded
     * by the worker, `deaths.ts`: a receive count raised by throttling is no death).
     */
    async handle(event: SqsEvent): Promise<BatchResponse> {
      const failed: Item[] = [];
      /** Messages to deliver again, and why, where whoever reads the function's logs sees it. */
      const comeBack = (items: readonly Item[], what: string, error: unknown) => {
        process.stderr.write(
          `squall worker: could not ${what} (${toError(error).message}); ${items.length} message(s) come back. Check the queues and the role's permissions.\n`,
        );
        failed.push(...items);
      };
      // Nothing in a message is believed before its signature is checked with its run's key.
      const keys = new Map<string, RunKey>();
      const unreadable: Item[] = [];
      let unreadableError: unknown;
      const checked = await Promise.all(
        event.Records.map(async (item) => {
          try {
            return { item, checked: await authenticate(item.body, "tasks", runKeys) };
          } catch (error) {
            unreadable.push(item);
            unreadableError = error;
            return undefined;
          }
        }),
      );
      if (unreadable.length > 0) comeBack(unreadable, "read the flow runs' keys", unreadableError);
      const fresh: { item: Item; parsed: Parsed }[] = [];
      const suspects: { item: Item; message: TaskMessage }[] = [];
      const resend: string[] = [];
      const resent: Item[] = [];
      for (const entry of checked) {
        if (!entry) continue;
        const { item, checked } = entry;
        if (!checked.ok) {
          // Deleted, not dead-lettered: the dead-letter queue holds runs that crashed, and no
          // run of this deployment is in it.
          rejections.reject(item, checked.reason, checked.detail, "It was deleted; nothing in it ran.");
          continue;
        }
        keys.set(checked.flowRunId, checked.runKey);
        const parsed = parseValue(TaskMessageSchema, checked.json);
        if (!parsed.ok) {
          fresh.push({ item, parsed: { ...parsed, flowRunId: checked.flowRunId, json: checked.json } });
          continue;
        }
        const message = parsed.value;
        const suspect = message.suspect === true || Number(item.attributes?.ApproximateReceiveCount ?? 1) > 1;
        const apart = (tasks: TaskRecord[]) =>
          signFor(keys, message.flowRunId, "tasks", JSON.stringify({ ...message, tasks, suspect: true }));
        if (!suspect) fresh.push({ item, parsed });
        else if (message.tasks.length > 1) {
          for (const record of message.tasks) resend.push(apart([record]));
          resent.push(item);
        } else if (suspects.length === 0) suspects.push({ item, message });
        else {
          resend.push(apart(message.tasks));
          resent.push(item);
        }
      }
      const done: Item[] = [];
      try {
        if (resend.length > 0) await options.tasks.send(resend);
        done.push(...resent);
      } catch (error) {
        comeBack(resent, "send suspect runs back apart", error);
      }
      // Runs taken apart are done with: should a run in this batch kill the invocation, they
      // must not come back.
      await deleteDone(done.splice(0));
      if (fresh.length > 0) {
        const handled = await runMessages(fresh, keys);
        try {
          await report(handled, keys);
          done.push(...fresh.map(({ item }) => item));
        } catch (error) {
          // Delivered again; the coordinator drops the outcomes it already has.
          comeBack(
            fresh.map(({ item }) => item),
            "report outcomes",
            error,
          );
        }
      }
      const suspect = suspects[0];
      if (suspect) {
        await deleteDone(done); // likewise, should the suspect kill it
        await runSuspect(suspect, keys, comeBack);
      }
      return { batchItemFailures: failed.map((item) => ({ itemIdentifier: item.messageId })) };
    },

    /** Messages this instance rejected, by reason (each also logged once, as a metric line). */
    rejected: () => rejections.counts(),
  };
}

/** The hash of the bundled source `module` (a caller's file URL) was built from, if it was bundled. */
function bundledSourceHash(
  bundled: Readonly<Record<string, string>> | undefined,
  module: string,
): string | undefined {
  if (!bundled) return undefined;
  const path = module.startsWith("file:") ? fileURLToPath(module) : module;
  for (const [source, hash] of Object.entries(bundled)) {
    if (path === source || path.endsWith(`/${source.replace(/^\.?\//, "")}`)) return hash;
  }
  return undefined;
}

/**
 * How long a bundled flows module, still loading, may take to define a task. Its tasks are
 * defined as the bundle loads, before the first invocation, so this only covers a module that
 * awaits something first; an unknown name fails after it, without holding the batch long.
 */
const FIND_TASK_MS = 2_000;

/** Runs the jobs, at most `limit` at a time. */

/**
 * Runs the function in its run scope; at the deadline the attempt fails and its signal aborts.
 * (A synchronous function that never yields cannot be stopped here: Lambda's own timeout ends
 * the invocation, the message is delivered again, and after maxReceiveCount it is dead-lettered.)
 */
async function withDeadline(
  spec: AttemptSpec,
  fn: (...args: unknown[]) => unknown,
  args: unknown[],
  timeoutMs: number | undefined,
): Promise<unknown> {
  if (timeoutMs === undefined) {
    const scope = new RemoteScope(spec);
    return Promise.resolve().then(() => scopeStorage.run(scope, fn, ...args));
  }
  const controller = new AbortController();
  const scope = new RemoteScope(spec, controller.signal);
  const running = Promise.resolve().then(() => scopeStorage.run(scope, fn, ...args));
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new TaskTimeoutError(
        `Task run '${spec.taskRun.name}' exceeded its timeout of ${timeoutMs / 1000} seconds.`,
      );
      controller.abort(error);
      reject(error);
    }, timeoutMs);
  });
  try {
    return await Promise.race([running, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Outcome messages, one flow run's outcomes each (each signed with its run's key). */
function packOutcomes(outcomes: readonly Outcome[], keys: BatchKeys): string[] {
  const byRun = new Map<string, string[]>();
  for (const outcome of outcomes) {
    const records = byRun.get(outcome.flowRunId) ?? [];
    records.push(sqsSafeJson(JSON.stringify(outcome)));
    byRun.set(outcome.flowRunId, records);
  }
  return [...byRun].flatMap(([flowRunId, records]) =>
    packMessages(
      `{"v":${WIRE_VERSION},"flowRunId":${JSON.stringify(flowRunId)},"worker":${JSON.stringify(WORKER_ID)},"outcomes":[`,
      records,
      "]}",
      { maxMessageBytes: SQS_MAX_BYTES - SEAL_BYTES },
    ).map((body) => signFor(keys, flowRunId, "completions", body)),
  );
}
/** Seconds to hold a retry back, or `undefined` when the run has no retry left (or must not retry). */
async function retryDelaySeconds(
  settings: TaskSettings,
  record: TaskRecord,
  error: Error,
): Promise<number | undefined> {
  const { attempt } = record;
  // The caller's policy when it sent one (it may differ from the module's, through withOptions).
  const policy = record.retry;
  if (attempt > (policy ? policy.retries : settings.retries)) return undefined;
  if (settings.retryCondition) {
    try {
      if (!(await settings.retryCondition(error))) return undefined;
    } catch {
      return undefined;
    }
  }
  const delayMs = policy
    ? retryDelayMs(policy.delays, attempt, policy.jitter)
    : retryDelayMs(settings.retryDelay, attempt, settings.retryJitterFactor);
  const seconds = Math.ceil(delayMs / 1000);
  if (seconds > SQS_MAX_DELAY_SECONDS) {
    throw new InvalidArgumentError(
      `The retry delay for retry ${attempt} is ${seconds} seconds; SQS holds a retry back at most ${SQS_MAX_DELAY_SECONDS} seconds. Give the task shorter \`retryDelaySeconds\`.`,
    );
  }
  return seconds;
}
