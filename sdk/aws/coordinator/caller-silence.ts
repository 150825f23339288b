import { DEFAULT_SILENT_AFTER_SECONDS, decodeHeartbeat, heartbeatKey } from "../record/heartbeat.js";
import { openedAt } from "../record/open-runs.js";
import type { RecordStore } from "../record/run-log.js";
import type { FlowReturned } from "../wire/messages.js";
import type { RunKeys } from "../wire/run-key.js";

/**
 * Whether a flow run's caller went silent: its last heartbeat is older than the bound it set.
 * A caller killed mid-flow never sends its flow-returned notice, so without this its run would
 * stay Running forever. Only a heartbeat signed with the run's key counts: an object that is
 * not one leaves the run alone (and is reported), so nothing unsigned can end a run. A run
 * with no heartbeat at all (its caller died before its first task, or every write failed) is
 * judged by its open marker, which the caller wrote before sending anything, and `defaultSeconds`.
 */
export class CallerSilence {
  readonly #store: RecordStore;
  readonly #runKeys: RunKeys;
  readonly #defaultMs: number;

  constructor(store: RecordStore, runKeys: RunKeys, defaultSeconds = DEFAULT_SILENT_AFTER_SECONDS) {
    this.#store = store;
    this.#runKeys = runKeys;
    this.#defaultMs = defaultSeconds * 1000;
  }

  /**
   * The notice that ends the run Crashed if its caller went silent by `now`, with the bound it
   * allowed itself, else `undefined`.
   */
  async crashedNotice(
    flowRunId: string,
    markerKey: string,
    now: number,
  ): Promise<{ notice: FlowReturned; boundMs: number } | undefined> {
    const last = await this.#lastSignOfLife(flowRunId, markerKey);
    if (!last || now - last.at <= last.boundMs) return undefined;
    const seconds = Math.round(last.boundMs / 1000);
    const notice: FlowReturned = {
      flowRunId,
      flowName: last.flowName,
      state: "Crashed",
      message: `The caller stopped at ${new Date(last.at).toISOString()}: no heartbeat for ${seconds} seconds. Task runs it had sent finish and are recorded; it sent no others.`,
      tasks: 0,
      endedAt: last.at,
    };
    return { notice, boundMs: last.boundMs };
  }

  async #lastSignOfLife(
    flowRunId: string,
    markerKey: string,
  ): Promise<{ at: number; boundMs: number; flowName: string } | undefined> {
    const found = await this.#store.read(heartbeatKey(flowRunId));
    if (found && found !== "unchanged") {
      const runKey = await this.#runKeys.lookup(flowRunId);
      const beat = runKey && decodeHeartbeat(runKey.key, flowRunId, found.bytes);
      if (!beat) {
        process.stderr.write(
          `squall coordinator: flow run ${flowRunId}'s heartbeat is not signed with the run's key; the run is left as it is. Something other than its caller wrote ${heartbeatKey(flowRunId)}: check who may write runs/* in the bucket.\n`,
        );
        return undefined;
      }
      return { at: beat.at, boundMs: beat.silentAfterSeconds * 1000, flowName: beat.flowName };
    }
    const marker = await this.#store.read(markerKey);
    if (!marker || marker === "unchanged") return undefined;
    const at = openedAt(marker.bytes);
    return at === undefined ? undefined : { at, boundMs: this.#defaultMs, flowName: "" };
  }
}
