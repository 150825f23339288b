import { toError } from "../../errors.js";
import { BEATS_PER_BOUND, encodeHeartbeat, type Heartbeat, heartbeatKey } from "../record/heartbeat.js";

/** What beating takes of the bucket. */
export interface HeartbeatWriter {
  put(key: string, value: Uint8Array): Promise<void>;
}

/**
 * Rewrites the flow run's heartbeat (`record/heartbeat.ts`) as the run starts and then
 * `BEATS_PER_BOUND` times per `silentAfterSeconds`: one small PUT each time, however many tasks
 * the run sends. Its timer never keeps the process alive. A write that fails is reported once and
 * tried again at the next beat: only `silentAfterSeconds` without one ends the run.
 */
export class CallerHeartbeat {
  readonly #store: HeartbeatWriter;
  readonly #key: Uint8Array;
  readonly #beat: Omit<Heartbeat, "at">;
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> = Promise.resolve();
  #reported = false;
  #stopped = false;

  constructor(store: HeartbeatWriter, key: Uint8Array, beat: Omit<Heartbeat, "at">) {
    this.#store = store;
    this.#key = key;
    this.#beat = beat;
  }

  /** Beats now, after `ready` (the run's key, which must be in the bucket first), and on; once. */
  start(ready: Promise<void>): void {
    if (this.#timer || this.#stopped) return;
    this.#writing = ready.then(
      () => this.#write(),
      () => {},
    );
    const every = (this.#beat.silentAfterSeconds * 1000) / BEATS_PER_BOUND;
    this.#timer = setInterval(() => {
      this.#writing = this.#writing.then(() => this.#write());
    }, every);
    this.#timer.unref();
  }

  /** Stops beating (the run's notice is sent, or the run ended); waits for a write under way. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#writing;
  }

  async #write(): Promise<void> {
    try {
      await this.#store.put(
        heartbeatKey(this.#beat.flowRunId),
        encodeHeartbeat(this.#key, { ...this.#beat, at: Date.now() }),
      );
    } catch (error) {
      if (this.#reported) return;
      this.#reported = true;
      process.stderr.write(
        `squall: could not write flow run ${this.#beat.flowRunId}'s heartbeat (${toError(error).message}); still trying. Without one for ${this.#beat.silentAfterSeconds} seconds the coordinator ends the run as Crashed: check the bucket and the credentials' rights on runs/*.\n`,
      );
    }
  }
}
