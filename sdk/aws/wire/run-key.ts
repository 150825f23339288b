import { randomBytes } from "node:crypto";
import { SquallError } from "../../errors.js";

/**
 * Each flow run's signing key: 32 random bytes its caller writes once, with a conditional
 * create, to `keys/<flowRunId>` before it sends anything. Workers and the coordinator read it
 * to check every message of the run and sign what they send on; a principal that may send to
 * the queues but not read `keys/` cannot sign, so cannot forge. The same object says whether
 * the run was cancelled, so a worker's one lookup per flow run per second answers both.
 * (`keys/` is apart from `runs/` so that reading a run's record never grants signing it.)
 */
export const KEYS_PREFIX = "keys/";

export function runKeyKey(flowRunId: string): string {
  return `${KEYS_PREFIX}${flowRunId}`;
}

export interface RunKey {
  readonly key: Uint8Array;
  /** Whether the flow run was cancelled (workers skip its task runs). */
  readonly cancelled: boolean;
}

interface RunKeyJson {
  readonly v: 1;
  readonly key: string;
  readonly cancelled?: string;
}

/** What writing keys takes of a bucket. */
export interface KeyWriter {
  create(key: string, value: Uint8Array): Promise<boolean>;
  put(key: string, value: Uint8Array): Promise<void>;
}

export function newRunKey(): Uint8Array {
  return randomBytes(32);
}

const encode = (json: RunKeyJson) => new TextEncoder().encode(JSON.stringify(json));

/** Writes the run's key, once: a flow run id that already has one is refused. */
export async function storeRunKey(store: KeyWriter, flowRunId: string, key: Uint8Array): Promise<void> {
  const created = await store.create(
    runKeyKey(flowRunId),
    encode({ v: 1, key: Buffer.from(key).toString("base64") }),
  );
  if (!created) {
    throw new SquallError(
      `Flow run ${flowRunId} already has a key in the bucket: a flow run id is used once. Start a new flow run.`,
    );
  }
}

/** Marks the run cancelled, keeping its key. */
export async function markRunCancelled(store: KeyWriter, flowRunId: string, key: Uint8Array): Promise<void> {
  await store.put(
    runKeyKey(flowRunId),
    encode({ v: 1, key: Buffer.from(key).toString("base64"), cancelled: new Date().toISOString() }),
  );
}

/** The run's key, or `undefined` when it has none (no caller of this deployment started it). */
export async function readRunKey(
  get: (key: string) => Promise<Uint8Array | undefined>,
  flowRunId: string,
): Promise<RunKey | undefined> {
  const bytes = await get(runKeyKey(flowRunId));
  if (!bytes) return undefined;
  try {
    const json = JSON.parse(new TextDecoder().decode(bytes)) as Partial<RunKeyJson>;
    const key = typeof json.key === "string" ? Buffer.from(json.key, "base64") : undefined;
    if (json.v !== 1 || !key || key.byteLength !== 32) return undefined;
    return { key, cancelled: typeof json.cancelled === "string" };
  } catch {
    return undefined; // not a key this deployment wrote: nothing it signs is trusted
  }
}

export interface RunKeysOptions {
  /** How long a lookup is trusted before the object is read again (for its cancellation). @default Infinity */
  readonly refreshMs?: number;
  /** Flow runs remembered at most. @default 1000 */
  readonly max?: number;
}

/**
 * Run keys as a warm instance knows them: each read once, and again only after `refreshMs`
 * (a key never changes; a cancellation may). A run without a key is not remembered, so the
 * message that names it before its caller wrote the key cannot shut the genuine ones out. When
 * a refresh fails, the key known so far stands.
 */
export class RunKeys {
  readonly #get: (key: string) => Promise<Uint8Array | undefined>;
  readonly #refreshMs: number;
  readonly #max: number;
  readonly #entries = new Map<string, { at: number; found: Promise<RunKey | undefined> }>();

  constructor(get: (key: string) => Promise<Uint8Array | undefined>, options: RunKeysOptions = {}) {
    this.#get = get;
    this.#refreshMs = options.refreshMs ?? Number.POSITIVE_INFINITY;
    this.#max = options.max ?? 1000;
  }

  /** The run's key as last read, or `undefined` when it has none; throws when the bucket fails and no key is known. */
  lookup(flowRunId: string): Promise<RunKey | undefined> {
    const now = Date.now();
    const entry = this.#entries.get(flowRunId);
    if (entry && now - entry.at <= this.#refreshMs) return entry.found;
    const earlier = entry?.found.catch(() => undefined);
    const found = readRunKey(this.#get, flowRunId).then(
      (runKey) => {
        if (!runKey && this.#entries.get(flowRunId)?.found === found) this.#entries.delete(flowRunId);
        return runKey;
      },
      async (error) => {
        const known = await earlier;
        if (known) return known;
        if (this.#entries.get(flowRunId)?.found === found) this.#entries.delete(flowRunId);
        throw error;
      },
    );
    this.#entries.delete(flowRunId);
    this.#entries.set(flowRunId, { at: now, found });
    if (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
    return found;
  }
}
