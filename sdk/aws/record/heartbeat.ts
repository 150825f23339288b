import { runPrefix } from "../../storage/keys.js";
import { openEnvelope, seal, signedWith } from "../wire/seal.js";

/**
 * A caller's heartbeat: one small object per flow run, `runs/<id>/heartbeat`, that the caller
 * rewrites every so often while its flow runs. The coordinator's sweep ends as Crashed a run
 * whose caller stopped beating for longer than the caller said it may (a caller killed mid-flow
 * never sends its flow-returned notice). It is signed with the run's key, like every message,
 * so that only the run's caller can say when it was last alive.
 */
export interface Heartbeat {
  readonly flowRunId: string;
  readonly flowName: string;
  /** When the caller wrote it, by its clock (milliseconds since the epoch). */
  readonly at: number;
  /** How long the caller may go without beating before its run is ended as Crashed. */
  readonly silentAfterSeconds: number;
}

/** How long a caller may go silent by default: long enough for a slow network, short enough to see. */
export const DEFAULT_SILENT_AFTER_SECONDS = 180;
/** Beats per bound: a few lost writes in a row do not end a live run. */
export const BEATS_PER_BOUND = 6;

export function heartbeatKey(flowRunId: string): string {
  return `${runPrefix(flowRunId)}heartbeat`;
}

export function encodeHeartbeat(key: Uint8Array, beat: Heartbeat): Uint8Array {
  return new TextEncoder().encode(seal(key, "heartbeats", JSON.stringify({ v: 1, ...beat })));
}

/** The heartbeat in `bytes`, or `undefined` when it is not one signed with the run's `key`. */
export function decodeHeartbeat(
  key: Uint8Array,
  flowRunId: string,
  bytes: Uint8Array,
): Heartbeat | undefined {
  const envelope = openEnvelope(new TextDecoder().decode(bytes));
  if (!envelope || !signedWith(key, "heartbeats", envelope)) return undefined;
  try {
    const json = JSON.parse(envelope.body) as Partial<Heartbeat> & { v?: unknown };
    const { at, silentAfterSeconds, flowName } = json;
    if (json.v !== 1 || json.flowRunId !== flowRunId) return undefined;
    if (typeof at !== "number" || typeof silentAfterSeconds !== "number" || typeof flowName !== "string") {
      return undefined;
    }
    return { flowRunId, flowName, at, silentAfterSeconds };
  } catch {
    return undefined;
  }
}
