import { format } from "node:util";
import { scopeStorage } from "../../context.js";
import { SquallError, TaskTimeoutError, toError } from "../../errors.js";
import { type LogRecord, setRecordSink } from "../../logging/config.js";
import { captureConsole, streamOf } from "../../logging/console-capture.js";
import type { TaskSettings } from "../../options.js";
import {
  type AttemptSpec,
  decodeArguments,
  encodeError,
  findTask,
  RemoteScope,
  serializerFor,
  verifyCode,
} from "../../remote/attempt.js";
import { retryDelayMs } from "../../retry.js";
import type { Serializer } from "../../serialization/serializer.js";
import { resultKey } from "../../storage/keys.js";
import type { ResultStore } from "../../storage/result-store.js";
import type { SqsQueue } from "../queue.js";
import {
  type Outcome,
  type Payload,
  parseMessage,
  type TaskMessage,
  TaskMessageSchema,
  type TaskRecord,
  WIRE_VERSION,
} from "../wire/messages.js";
import { packMessages } from "../wire/pack.js";

/** An SQS event as Lambda delivers it (the fields this worker reads). */
export interface SqsEvent {
  readonly Records: readonly { readonly messageId: string; readonly body: string }[];
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
}

/** SQS holds a message back 15 minutes at most; a longer retry delay cannot be queued. */
const MAX_DELAY_SECONDS = 900;
const decoder = new TextDecoder("utf-8", { fatal: true });

type Entry = Outcome["logs"][number];

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
  ): Promise<{ outcome: Outcome; retry?: number }> {
    const entries: Entry[] = [];
    logs.set(record.taskRunId, entries);
    const startedAt = Date.now();
    const base = {
      flowRunId: message.flowRunId,
      taskRunId: record.taskRunId,
      attempt: record.attempt,
      startedAt,
      logs: entries,
    };
    let def: Awaited<ReturnType<typeof findTask>> | undefined;
    try {
      const spec: AttemptSpec = {
        module: record.module ?? "",
        task: record.task,
        codeHash: record.codeHash,
        verifySource: true,
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
      def = await findTask(record.module, record.task);
      verifyCode(def, spec);
      const serializer = serializerFor(spec, def.settings.serializer);
      const args = await decodeArguments(await payloadBytes(record.args), serializer);
      const value = await withDeadline(
        spec,
        def.fn as (...args: unknown[]) => unknown,
        args,
        record.timeoutMs,
      );
      const payload = await encodeResult(value, serializer, message.flowRunId, record.taskRunId);
      return {
        outcome: { ...base, status: "completed", serializer: serializer.name, payload, endedAt: Date.now() },
      };
    } catch (thrown) {
      const error = toError(thrown);
      const payload: Payload = { text: decoder.decode(encodeError(error)) };
      const retry = def ? await retryDelaySeconds(def.settings, record.attempt, error) : undefined;
      const status = retry === undefined ? "failed" : "retrying";
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
  ): Promise<Payload> {
    const bytes = serializer.serialize(value, "result");
    if (bytes.byteLength > (options.inlineBytes ?? 64 * 1024)) {
      const key = resultKey(flowRunId, taskRunId);
      await options.store.put(key, bytes);
      return { key, size: bytes.byteLength };
    }
    return asPayload(bytes);
  }

  async function payloadBytes(payload: Payload): Promise<Uint8Array> {
    if ("text" in payload) return new TextEncoder().encode(payload.text);
    if ("base64" in payload) return Buffer.from(payload.base64, "base64");
    const bytes = await options.store.get(payload.key);
    if (!bytes) throw new SquallError(`The arguments stored at \`${payload.key}\` are gone.`);
    return bytes;
  }

  return {
    async handle(event: SqsEvent): Promise<BatchResponse> {
      const failures: { itemIdentifier: string }[] = [];
      for (const item of event.Records) {
        const outcomes: Outcome[] = [];
        const retries: { record: TaskRecord; delay: number; message: TaskMessage }[] = [];
        const parsed = parseMessage(TaskMessageSchema, item.body);
        if (!parsed.ok) {
          outcomes.push(...malformed(item.body, parsed.reason));
        } else {
          for (const record of parsed.value.tasks) {
            const { outcome, retry } = await runRecord(parsed.value, record);
            outcomes.push(outcome);
            if (retry !== undefined) retries.push({ record, delay: retry, message: parsed.value });
          }
        }
        try {
          // Retries first: once the outcomes are out, the record counts as handled.
          for (const { record, delay, message } of retries) {
            const next: TaskMessage = { ...message, tasks: [{ ...record, attempt: record.attempt + 1 }] };
            await options.tasks.send([JSON.stringify(next)], { delaySeconds: delay });
          }
          if (outcomes.length > 0) await options.completions.send(packOutcomes(outcomes));
        } catch {
          failures.push({ itemIdentifier: item.messageId }); // delivered again; the coordinator drops repeats
        }
      }
      return { batchItemFailures: failures };
    },
  };
}

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
  const controller = new AbortController();
  const scope = new RemoteScope(spec, controller.signal);
  const running = Promise.resolve().then(() => scopeStorage.run(scope, fn, ...args));
  if (timeoutMs === undefined) return running;
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

/** Seconds to hold a retry back, or `undefined` when the run has no retry left (or must not retry). */
async function retryDelaySeconds(
  settings: TaskSettings,
  attempt: number,
  error: Error,
): Promise<number | undefined> {
  if (attempt > settings.retries) return undefined;
  if (settings.retryCondition) {
    try {
      if (!(await settings.retryCondition(error))) return undefined;
    } catch {
      return undefined;
    }
  }
  const seconds = Math.ceil(retryDelayMs(settings.retryDelay, attempt, settings.retryJitterFactor) / 1000);
  return Math.min(seconds, MAX_DELAY_SECONDS);
}

function asPayload(bytes: Uint8Array): Payload {
  try {
    return { text: decoder.decode(bytes) };
  } catch {
    return { base64: Buffer.from(bytes).toString("base64") };
  }
}

/** Failed outcomes for the task runs a malformed message names, as far as they can be read. */
function malformed(body: string, reason: string): Outcome[] {
  let loose: { flowRunId?: unknown; tasks?: { taskRunId?: unknown; attempt?: unknown }[] } = {};
  try {
    loose = JSON.parse(body);
  } catch {}
  if (typeof loose?.flowRunId !== "string" || !Array.isArray(loose.tasks)) {
    process.stderr.write(`squall worker: dropped a task message naming no task runs: ${reason}\n`);
    return [];
  }
  const error = new SquallError(`The task message could not be read: ${reason}.`);
  const payload: Payload = { text: decoder.decode(encodeError(error)) };
  return loose.tasks
    .filter((task) => typeof task?.taskRunId === "string")
    .map((task) => ({
      flowRunId: loose.flowRunId as string,
      taskRunId: task.taskRunId as string,
      attempt: typeof task.attempt === "number" && task.attempt >= 1 ? Math.floor(task.attempt) : 1,
      status: "failed" as const,
      serializer: "default",
      payload,
      endedAt: Date.now(),
      logs: [],
    }));
}

function packOutcomes(outcomes: readonly Outcome[]): string[] {
  return packMessages(
    `{"v":${WIRE_VERSION},"outcomes":[`,
    outcomes.map((o) => JSON.stringify(o)),
    "]}",
  );
}
