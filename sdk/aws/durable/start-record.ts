import * as v from "valibot";
import { SquallError } from "../../errors.js";
import { runPrefix } from "../../storage/keys.js";

/**
 * What a durable flow run was started with (`runs/<id>/start`), written once by whoever starts
 * it, before its first task: what a driver resuming the run runs again, and the code identity
 * it must run it with.
 */
export const StartRecordSchema = v.object({
  v: v.literal(1),
  flow: v.string(),
  /** JSON: the flow's arguments. */
  parameters: v.array(v.unknown()),
  flowRunName: v.string(),
  /** When the run first started (ms since epoch): `flowRunStartTime()` in every replay. */
  startedAt: v.number(),
  /** The flows module's code identity at start: a resume under other code fails the run. */
  code: v.string(),
  /** The schedule that started it, if one did. */
  schedule: v.optional(v.string()),
});
export type StartRecord = v.InferOutput<typeof StartRecordSchema>;

export function startRecordKey(flowRunId: string): string {
  return `${runPrefix(flowRunId)}start`;
}

/** Writes the record; `false` when the run already has one (a flow run id is started once). */
export async function writeStartRecord(
  store: { create(key: string, value: Uint8Array): Promise<boolean> },
  flowRunId: string,
  record: StartRecord,
): Promise<boolean> {
  return store.create(startRecordKey(flowRunId), new TextEncoder().encode(JSON.stringify(record)));
}

/** The run's start record, or `undefined` when it has none. */
export async function readStartRecord(
  store: { get(key: string): Promise<Uint8Array | undefined> },
  flowRunId: string,
): Promise<StartRecord | undefined> {
  const bytes = await store.get(startRecordKey(flowRunId));
  if (!bytes) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    json = undefined;
  }
  const parsed = v.safeParse(StartRecordSchema, json);
  if (!parsed.success) {
    throw new SquallError(
      `Flow run ${flowRunId}'s start record (${startRecordKey(flowRunId)}) is not one squall wrote; the run cannot be resumed.`,
    );
  }
  return parsed.output;
}
