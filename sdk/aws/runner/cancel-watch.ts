import { runPrefix } from "../../storage/keys.js";

/** How often a running flow run looks for a cancellation request. */
export const CANCEL_CHECK_MS = 5_000;

/** Where `squall cancel` asks a flow run to stop: `runs/<id>/cancel`. */
export function cancelRequestKey(flowRunId: string): string {
  return `${runPrefix(flowRunId)}cancel`;
}

/**
 * Watches for a request to cancel the flow run from outside its process (`squall cancel`, which
 * may write under `runs/` but not the run's key): one GET every `CANCEL_CHECK_MS` while the run
 * has task runs out, about what its heartbeat costs. Found, it calls `cancel` once, with when it
 * was asked for; the session then cancels as Ctrl-C would (workers skip the rest). Its timer never
 * keeps the process alive; a read that fails is tried at the next check.
 */
export class CancelWatch {
  readonly #get: (key: string) => Promise<Uint8Array | undefined>;
  readonly #key: string;
  readonly #cancel: (requestedAt: number | undefined) => void;
  #timer: NodeJS.Timeout | undefined;
  #done = false;

  constructor(
    get: (key: string) => Promise<Uint8Array | undefined>,
    flowRunId: string,
    cancel: (requestedAt: number | undefined) => void,
  ) {
    this.#get = get;
    this.#key = cancelRequestKey(flowRunId);
    this.#cancel = cancel;
  }

  /** Checks now and every few seconds on; once. */
  start(): void {
    if (this.#timer || this.#done) return;
    void this.#check();
    this.#timer = setInterval(() => void this.#check(), CANCEL_CHECK_MS);
    this.#timer.unref();
  }

  stop(): void {
    this.#done = true;
    clearInterval(this.#timer);
  }

  async #check(): Promise<void> {
    let bytes: Uint8Array | undefined;
    try {
      bytes = await this.#get(this.#key);
    } catch {
      return; // the next check tries again
    }
    if (!bytes || this.#done) return;
    this.stop();
    let requestedAt: number | undefined;
    try {
      const at = (JSON.parse(new TextDecoder().decode(bytes)) as { requestedAt?: unknown }).requestedAt;
      requestedAt = typeof at === "number" ? at : undefined;
    } catch {
      requestedAt = undefined;
    }
    this.#cancel(requestedAt);
  }
}
