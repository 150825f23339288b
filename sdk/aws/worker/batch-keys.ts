import type { RunKey } from "../wire/run-key.js";
import { type Channel, seal } from "../wire/seal.js";

/** The keys of the flow runs a batch's messages were signed for: what the worker signs with in turn. */
export type BatchKeys = ReadonlyMap<string, RunKey>;

export function signFor(keys: BatchKeys, flowRunId: string, channel: Channel, body: string): string {
  const runKey = keys.get(flowRunId);
  if (!runKey) throw new Error(`No key for flow run ${flowRunId} in this batch.`); // a bug, not a message
  return seal(runKey.key, channel, body);
}
