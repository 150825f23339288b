import { ResultNotFoundError } from "../errors.js";
import { defaultSerializer, type Serializer } from "../serialization/serializer.js";
import { resultKey } from "./keys.js";
import type { ResultStore } from "./result-store.js";

export interface PersistedResultAddress {
  readonly flowRunId: string;
  readonly taskRunId: string;
}

/**
 * Reads back a result that a task with `persistResult` stored.
 *
 * @example
 * const value = await readPersistedResult(store, { flowRunId, taskRunId: future.taskRunId });
 */
export async function readPersistedResult<T = unknown>(
  store: ResultStore,
  address: PersistedResultAddress,
  serializer: Serializer = defaultSerializer,
): Promise<T> {
  const key = resultKey(address.flowRunId, address.taskRunId);
  const bytes = await store.get(key);
  if (bytes === undefined) {
    throw new ResultNotFoundError(
      `No persisted result at \`${key}\`: was the task run with \`persistResult: true\`?`,
    );
  }
  return serializer.deserialize(bytes) as T;
}
