// A run started elsewhere (`squall run --detach`, `startFlowRun`) is followed by its id at once,
// before its flow-runner has written anything: following waits for its record to appear.
import { setTimeout as wait } from "node:timers/promises";
import { type RunBackend, RunLookupError } from "./backend.js";

/** A run id as `startFlowRun` mints it: only such an id is waited for, never a name or prefix. */
const MINTED_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface AwaitRunOptions {
  /** How long to wait for the record to appear. @default 60000 */
  readonly timeoutMs?: number;
  /** How often to look. @default 500 */
  readonly pollMs?: number;
  /** Told once, when the run is not there at first and is waited for. */
  readonly onWait?: (id: string) => void;
  readonly signal?: AbortSignal;
}

/**
 * The id `run` names, as `backend.resolve` finds it; a whole run id (a UUID) that is not there
 * yet is looked for again until its record appears, for up to `timeoutMs`: a run just started
 * on a flow-runner has none until the flow-runner writes its first object. Anything else that
 * names no run, and a run that does not appear in time, is a `RunLookupError`.
 */
export async function awaitRun(
  backend: RunBackend,
  run: string,
  options: AwaitRunOptions = {},
): Promise<string> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const until = Date.now() + timeoutMs;
  let told = false;
  for (;;) {
    try {
      return await backend.resolve(run);
    } catch (error) {
      if (!(error instanceof RunLookupError) || !MINTED_ID.test(run) || options.signal?.aborted) throw error;
      if (Date.now() >= until) {
        throw new RunLookupError(
          `No flow run ${run} appeared in ${backend.where} within ${Math.round(timeoutMs / 1000)} s: check that it was started there (squall runs lists the runs).`,
          { cause: error },
        );
      }
      if (!told) options.onWait?.(run);
      told = true;
      await wait(options.pollMs ?? 500);
    }
  }
}
