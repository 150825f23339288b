import { RUN_ID_PATTERN } from "./messages.js";
import type { RejectReason } from "./rejections.js";
import type { RunKey, RunKeys } from "./run-key.js";
import { type Channel, openEnvelope, signedWith } from "./seal.js";

export type Authenticated =
  | { readonly ok: true; readonly flowRunId: string; readonly runKey: RunKey; readonly json: unknown }
  | { readonly ok: false; readonly reason: RejectReason; readonly detail: string };

/**
 * Whether `sealed` was signed for `channel` with the key of the flow run it names, checked
 * before anything in it is believed; with the message, parsed. Throws when the bucket fails
 * to give the key (the message should come back, not be rejected).
 */
export async function authenticate(sealed: string, channel: Channel, keys: RunKeys): Promise<Authenticated> {
  const envelope = openEnvelope(sealed);
  if (!envelope) {
    return {
      ok: false,
      reason: "unsigned",
      detail: `it carries no signature (${JSON.stringify(sealed.slice(0, 60))}...): squall signs every message with its flow run's key`,
    };
  }
  let json: unknown;
  try {
    json = JSON.parse(envelope.body);
  } catch (error) {
    return { ok: false, reason: "not-json", detail: `it is not JSON (${(error as Error).message})` };
  }
  const flowRunId = (json as { flowRunId?: unknown } | null)?.flowRunId;
  if (typeof flowRunId !== "string" || !RUN_ID_PATTERN.test(flowRunId)) {
    return {
      ok: false,
      reason: "no-flow-run",
      detail: `it names no flow run id of 1 to 128 letters, digits, \`_\` or \`-\` (${JSON.stringify(String(flowRunId).slice(0, 60))})`,
    };
  }
  const runKey = await keys.lookup(flowRunId);
  if (!runKey) {
    return {
      ok: false,
      reason: "unknown-flow-run",
      detail: `flow run ${flowRunId} has no key: no caller of this deployment started it`,
    };
  }
  if (!signedWith(runKey.key, channel, envelope)) {
    return {
      ok: false,
      reason: "forged",
      detail: `its signature is not flow run ${flowRunId}'s for the ${channel} queue: forged, or changed on the way`,
    };
  }
  return { ok: true, flowRunId, runKey, json };
}
