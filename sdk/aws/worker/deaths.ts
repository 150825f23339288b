import { runPrefix } from "../../storage/keys.js";
import type { ResultStore } from "../../storage/result-store.js";
import type { TaskRecord } from "../wire/messages.js";

/**
 * A run whose worker may have died is a suspect: it runs alone, and before each such start the
 * worker records it under `runs/<flowRunId>/starts/<taskRunId>-<attempt>`. Deaths are counted
 * from these records, not from SQS's receive count, which also rises when Lambda's poller is
 * throttled and hands a batch back without invoking anything: a throttled healthy run is split
 * and run alone, never given up on. Costs one GET and one PUT per suspect start, none otherwise.
 */
export function startsKey(flowRunId: string, record: TaskRecord): string {
  return `${runPrefix(flowRunId)}starts/${record.taskRunId}-${record.attempt}`;
}

/**
 * How many times this suspect run was started alone before, each without an outcome (else it
 * would not be here again): its deaths. Below `maxDeaths`, this start is recorded first.
 */
export async function recordStart(
  store: ResultStore,
  flowRunId: string,
  record: TaskRecord,
  maxDeaths: number,
): Promise<number> {
  const key = startsKey(flowRunId, record);
  const found = await store.get(key);
  const deaths = found ? Number.parseInt(new TextDecoder().decode(found), 10) || 0 : 0;
  if (deaths < maxDeaths) await store.put(key, new TextEncoder().encode(String(deaths + 1)));
  return deaths;
}
