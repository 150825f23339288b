import { runPrefix } from "../../storage/keys.js";
import { readStartRecord } from "../durable/start-record.js";
import { sendResume } from "../flow-runner/resume-message.js";
import type { SqsQueue } from "../queue.js";
import type { RecordStore } from "../record/run-log.js";
import type { RunKeys } from "../wire/run-key.js";

/** Resumes by the sweep after which a run whose flow-runner keeps dying ends Crashed instead. */
export const MAX_SWEEP_RESUMES = 5;

interface SweepResumes {
  readonly count: number;
  readonly at: number;
}

export type SilentDriverAction =
  | { readonly action: "resumed" | "waiting" }
  | { readonly action: "end"; readonly resumes: number };

/**
 * What the sweep does with a durable run whose driver went silent (a flow-runner invocation
 * that died with no message on the flow queue to bring it back: one invoked directly, killed or
 * out of memory): it sends the run a resume, signed with the run's key, rather than ending it
 * Crashed. It counts its resumes of a run in `runs/<id>/sweep-resumes`, sends none while the
 * last one may still be starting (within the run's silence bound), and after
 * `MAX_SWEEP_RESUMES` gives up, so a run whose every replay kills its flow-runner still ends.
 * A run with no start record is not durable: `undefined`, the sweep ends it as before.
 */
export class SilentDrivers {
  readonly #store: RecordStore;
  readonly #runKeys: RunKeys;
  readonly #flowQueue: SqsQueue;

  constructor(store: RecordStore, runKeys: RunKeys, flowQueue: SqsQueue) {
    this.#store = store;
    this.#runKeys = runKeys;
    this.#flowQueue = flowQueue;
  }

  async handle(flowRunId: string, now: number, boundMs: number): Promise<SilentDriverAction | undefined> {
    const started = await readStartRecord({ get: (key) => this.#get(key) }, flowRunId).catch(() => undefined);
    if (!started) return undefined;
    const runKey = await this.#runKeys.lookup(flowRunId);
    if (!runKey) return undefined;
    const key = `${runPrefix(flowRunId)}sweep-resumes`;
    const found = await this.#store.read(key);
    const previous =
      found && found !== "unchanged"
        ? (JSON.parse(new TextDecoder().decode(found.bytes)) as SweepResumes)
        : undefined;
    if (previous && now - previous.at <= boundMs) return { action: "waiting" };
    const count = (previous?.count ?? 0) + 1;
    if (count > MAX_SWEEP_RESUMES) return { action: "end", resumes: previous?.count ?? 0 };
    const bytes = new TextEncoder().encode(JSON.stringify({ count, at: now } satisfies SweepResumes));
    const written =
      found && found !== "unchanged"
        ? await this.#store.replace(key, bytes, found.etag)
        : await this.#store.create(key, bytes);
    if (!written) return { action: "waiting" }; // another sweep got there first
    await sendResume(this.#flowQueue, runKey.key, flowRunId, { from: 0, reason: "sweep" });
    return { action: "resumed" };
  }

  async #get(key: string): Promise<Uint8Array | undefined> {
    const found = await this.#store.read(key);
    return found && found !== "unchanged" ? found.bytes : undefined;
  }
}
