import { randomBytes } from "node:crypto";
import type { TaskDefinition } from "../../engine/definitions.js";
import { MessageRefusedError, SquallError, toError } from "../../errors.js";
import { type AttemptSpec, decodeArguments, serializerFor, storedArguments } from "../../remote/attempt.js";
import type { Serializer } from "../../serialization/serializer.js";
import { resultKey, runPrefix } from "../../storage/keys.js";
import type { ResultStore } from "../../storage/result-store.js";
import type { Outcome, Payload, TaskMessage, TaskRecord } from "../wire/messages.js";
import { asPayload, inlineBytes } from "../wire/payload.js";
import { confinedOpener, isUnder } from "./confinement.js";
import { type WorkerDeadline, withDeadline } from "./deadline.js";
import { errorPayload } from "./error-payload.js";
import { StaleModuleError } from "./reload.js";
import { retryDelaySeconds } from "./retry-delay.js";
import { retryLine } from "./retry-line.js";
import type { RunLogs } from "./run-logs.js";
import { StorageUnavailableError } from "./storage-apart.js";
import { findRecordTask, type TaskLookupOptions } from "./task-lookup.js";

/**
 * How one run went: its outcome (and a retry's delay in seconds), the bucket failed it, or this
 * worker's copy of its module is older than the caller's (the local environment reloads it).
 */
export type RecordResult =
  | { outcome: Outcome; retry?: number }
  | { unavailable: Error }
  | { reload: StaleModuleError };

export interface RecordRunnerOptions extends TaskLookupOptions {
  /** The worker's bucket, its failures told apart (`FailingApart`). */
  readonly store: ResultStore;
  /** The bucket stored arguments may be read from (the worker's own, with no prefix of its own). */
  readonly ownBucket: string | undefined;
  /** Results up to this many bytes travel inline in the outcome. */
  readonly inlineBytes: number;
  readonly logs: RunLogs;
}

/** Runs one task record, with its deadline, into its outcome. */
export function createRecordRunner(options: RecordRunnerOptions) {
  const { store, ownBucket, logs } = options;

  async function encodeResult(
    value: unknown,
    serializer: Serializer,
    flowRunId: string,
    taskRunId: string,
    attempt: number,
  ): Promise<Payload> {
    const bytes = serializer.serialize(value, "result");
    if (bytes.byteLength > options.inlineBytes) {
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

  return async function runRecord(
    message: TaskMessage,
    record: TaskRecord,
    worker?: WorkerDeadline,
  ): Promise<RecordResult> {
    const entries = logs.open(record.taskRunId);
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
      const found = await findRecordTask(record, spec, options);
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
        worker,
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
      if (thrown instanceof StaleModuleError) return { reload: thrown };
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
      const payload = await errorPayload(error, runOf(message, record), store, options.inlineBytes);
      const status = retry === undefined ? "failed" : "retrying";
      if (retry !== undefined) {
        // The line the local runners print, carried in the attempt's outcome for the caller to replay.
        const retries = record.retry?.retries ?? def?.settings.retries ?? 0;
        entries.push(retryLine(message, record, error, retries, retry));
      }
      return { outcome: { ...base, status, serializer: "default", payload, endedAt: Date.now() }, retry };
    } finally {
      logs.close(record.taskRunId);
    }
  };
}

/** Which execution of which run: where its stored values go. */
const runOf = (message: TaskMessage, record: TaskRecord) => ({
  flowRunId: message.flowRunId,
  taskRunId: record.taskRunId,
  attempt: record.attempt,
});

export type RunRecord = ReturnType<typeof createRecordRunner>;
