import * as v from "valibot";

/**
 * The messages of the distributed runner, validated before use: a message that does not
 * fit becomes a clear failure for its tasks, never a crashed batch. `v` is the schema
 * version; a worker refuses a version it does not know rather than guess. Since version 2,
 * every message names its flow run at the top and is signed with that run's key (`seal.ts`).
 */
export const WIRE_VERSION = 2;

const id = v.pipe(v.string(), v.minLength(1), v.maxLength(200));

/**
 * Flow run and task run ids: they name objects in the bucket (`runs/<flowRunId>/`,
 * `keys/<flowRunId>`), so they are one key segment of safe characters, never a path.
 */
export const RUN_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
const runId = v.pipe(v.string(), v.regex(RUN_ID_PATTERN, "Expected 1 to 128 letters, digits, `_` or `-`"));

const size = v.pipe(v.number(), v.integer(), v.minValue(0));

/**
 * Where the whole of a value sits that an inline payload carries only a shortened copy of: an
 * error too large for its outcome (`worker/error-payload.ts`). The caller reads it from its own
 * bucket, under the flow run's prefix only, and falls back to the inline copy.
 *
 * An optional field of the inline kinds rather than a kind of its own, so that it needs no new
 * schema version: a reader that predates it (valibot's `object` drops fields it does not know)
 * takes the inline copy, as before, whereas a `{ key, size }` error would leave it nothing to
 * decode.
 */
const StoredWholeSchema = v.optional(v.object({ key: id, size }));

/**
 * A serialized value: UTF-8 text when the serializer wrote text, else base64 (either possibly a
 * shortened copy of a value `stored` whole); or a key in the bucket.
 */
export const PayloadSchema = v.union([
  v.object({ text: v.string(), stored: StoredWholeSchema }),
  v.object({ base64: v.string(), stored: StoredWholeSchema }),
  v.object({ key: id, size }),
]);
export type Payload = v.InferOutput<typeof PayloadSchema>;

export const TaskRecordSchema = v.object({
  taskRunId: runId,
  taskRunName: id,
  task: id,
  module: v.optional(v.string()),
  codeHash: v.string(),
  /** Whether a worker whose code for the task differs must refuse it. @default true */
  verifySource: v.optional(v.boolean()),
  attempt: v.pipe(v.number(), v.integer(), v.minValue(1)),
  serializer: id,
  args: PayloadSchema,
  timeoutMs: v.optional(v.pipe(v.number(), v.minValue(1))),
  /** The caller's retry policy (its `withOptions` included), with each retry's delay in seconds. */
  retry: v.optional(
    v.object({
      retries: v.pipe(v.number(), v.integer(), v.minValue(0)),
      delays: v.array(v.pipe(v.number(), v.minValue(0))),
      jitter: v.pipe(v.number(), v.minValue(0)),
    }),
  ),
  logPrints: v.boolean(),
  tags: v.array(v.string()),
});
export type TaskRecord = v.InferOutput<typeof TaskRecordSchema>;

/** Several task runs of one flow run, as one queue message. */
export const TaskMessageSchema = v.object({
  v: v.literal(WIRE_VERSION),
  flowRunId: runId,
  flowRunName: v.string(),
  flowName: v.string(),
  tasks: v.pipe(v.array(TaskRecordSchema), v.minLength(1)),
  /**
   * Set on a run a worker sent back apart because the invocation that held it may have died
   * (or its batch was handed back unrun): it runs alone, each start recorded (`worker/deaths.ts`).
   */
  suspect: v.optional(v.literal(true)),
  /**
   * Times these runs were sent back because the bucket failed them (their arguments could not be
   * read or their result stored): not deaths, since the worker lived, but bounded all the same.
   */
  stalls: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  /**
   * A durable run's message, kept in its journal: the copy that claims this first runs (see
   * `worker/claims.ts`). An optional field older workers drop, so the wire version stays 2.
   */
  claim: v.optional(v.pipe(v.string(), v.regex(/^[0-9a-f]{16,64}$/))),
});
export type TaskMessage = v.InferOutput<typeof TaskMessageSchema>;

const LogRecordSchema = v.object({
  time: v.number(),
  level: v.picklist(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]),
  message: v.string(),
  flowRunId: v.optional(v.string()),
  flowRunName: v.optional(v.string()),
  taskRunId: v.optional(v.string()),
  taskRunName: v.optional(v.string()),
});

/** How one attempt ended, as the worker reports it. */
export const OutcomeSchema = v.object({
  flowRunId: runId,
  taskRunId: runId,
  attempt: v.pipe(v.number(), v.integer(), v.minValue(1)),
  /** `cancelled`: the worker skipped it, its flow run being cancelled. */
  status: v.picklist(["completed", "failed", "crashed", "cancelled", "retrying"]),
  serializer: id,
  /** The result when completed; the error otherwise. */
  payload: v.optional(PayloadSchema),
  startedAt: v.optional(v.number()),
  endedAt: v.number(),
  /**
   * The execution environment that ran it (its Lambda log stream name), for timelines by worker:
   * sent once per outcome message, set on each outcome that ran there by the coordinator.
   */
  worker: v.optional(v.string()),
  /** Console output and run-logger lines, in order, for the caller to replay. */
  logs: v.array(
    v.union([LogRecordSchema, v.object({ stream: v.picklist(["stdout", "stderr"]), text: v.string() })]),
  ),
});
export type Outcome = v.InferOutput<typeof OutcomeSchema>;

/**
 * The caller's notice that the flow function has returned: the flow run is final, in `state`,
 * once the outcomes of all `tasks` task runs it sent are recorded.
 */
export const FlowReturnedSchema = v.object({
  flowRunId: runId,
  flowName: v.string(),
  state: v.picklist(["Completed", "Failed", "Cancelled", "TimedOut", "Crashed"]),
  message: v.optional(v.string()),
  /** How many task runs the flow run sent to the queue. */
  tasks: v.pipe(v.number(), v.integer(), v.minValue(0)),
  /** Their ids, as counter ranges per id prefix: what a sweep marks Crashed if no outcome comes. */
  sent: v.optional(
    v.object({
      ranges: v.record(v.string(), v.array(v.tuple([v.number(), v.number()]))),
      others: v.array(v.string()),
    }),
  ),
  endedAt: v.number(),
});
export type FlowReturned = v.InferOutput<typeof FlowReturnedSchema>;

/**
 * What the completion queue carries: outcomes of one flow run from a worker, or its caller's
 * flow-returned notice. Each message is of one flow run, signed with that run's key.
 */
export const OutcomeMessageSchema = v.union([
  v.pipe(
    v.object({
      v: v.literal(WIRE_VERSION),
      flowRunId: runId,
      /** The worker that sent them (once, not per outcome: SQS bills by the 64 KB). */
      worker: v.optional(v.string()),
      outcomes: v.pipe(v.array(OutcomeSchema), v.minLength(1)),
    }),
    v.check(
      (message) => message.outcomes.every((outcome) => outcome.flowRunId === message.flowRunId),
      "Expected every outcome to be of the message's flow run",
    ),
  ),
  v.pipe(
    v.object({ v: v.literal(WIRE_VERSION), flowRunId: runId, returned: FlowReturnedSchema }),
    v.check(
      (message) => message.returned.flowRunId === message.flowRunId,
      "Expected the notice to be of the message's flow run",
    ),
  ),
]);
export type OutcomeMessage = v.InferOutput<typeof OutcomeMessageSchema>;

/** The message, or a one-line reason it does not fit (for the Failed outcome it becomes). */
export function parseMessage<S extends v.GenericSchema>(
  schema: S,
  body: string,
): { ok: true; value: v.InferOutput<S> } | { ok: false; reason: string } {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (error) {
    return { ok: false, reason: `the message is not JSON (${(error as Error).message})` };
  }
  return parseValue(schema, json);
}

/** As `parseMessage`, for a message already parsed as JSON. */
export function parseValue<S extends v.GenericSchema>(
  schema: S,
  json: unknown,
): { ok: true; value: v.InferOutput<S> } | { ok: false; reason: string } {
  const version = (json as { v?: unknown } | null)?.v;
  if (version !== WIRE_VERSION) {
    return {
      ok: false,
      reason: `the message has schema version ${String(version)}; this worker reads ${WIRE_VERSION}`,
    };
  }
  const result = v.safeParse(schema, json);
  if (result.success) return { ok: true, value: result.output };
  const issue = deepest(result.issues[0]);
  const path = issue?.path?.map((item) => String(item.key)).join(".") ?? "";
  return {
    ok: false,
    reason: `the message does not fit its schema at \`${path || "(root)"}\`: ${issue?.message}`,
  };
}

type Issue = v.BaseIssue<unknown>;

/** Of a union's issues, the one that got furthest into the message: what is wrong with it. */
function deepest(issue: Issue | undefined): Issue | undefined {
  if (!issue?.issues?.length) return issue;
  let best: Issue | undefined;
  for (const inner of issue.issues) {
    const candidate = deepest(inner);
    if ((candidate?.path?.length ?? 0) > (best?.path?.length ?? 0) || !best) best = candidate;
  }
  return best;
}
