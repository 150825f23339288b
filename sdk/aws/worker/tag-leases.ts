import { randomInt } from "node:crypto";
import type { TagLimits } from "../../runners/tag-slots.js";

/** Added to the worker function's timeout to make a lease's life: room for clocks apart. */
export const LEASE_MARGIN_SECONDS = 30;

/** Where the leases of a limited tag live: `leases/<tag>/<slot>`, slots 0 to limit - 1. */
export const LEASES_PREFIX = "leases/";

/** One object under a tag's lease prefix, as a listing gives it. */
export interface LeaseEntry {
  readonly key: string;
  readonly etag: string;
  /** When it was last written, in milliseconds since the epoch (the bucket's clock). */
  readonly lastModified: number;
}

/** What leases need of the bucket: conditional writes, a listing with ages, and deletes. */
export interface LeaseBucket {
  /** Stores `value` only if nothing is at `key`; `false` when something was. */
  create(key: string, value: Uint8Array): Promise<boolean>;
  /** Replaces the value at `key` only if it still has version `etag`. */
  replace(key: string, value: Uint8Array, etag: string): Promise<boolean>;
  delete(key: string): Promise<void>;
  /** The objects under `prefix`, with their versions and ages. */
  entries(prefix: string): Promise<LeaseEntry[]>;
}

export interface TagLeasesOptions {
  readonly bucket: LeaseBucket;
  readonly limits: TagLimits;
  /**
   * How long a lease holds before anyone may take it over. No run outlives the invocation that
   * runs it, so the worker function's timeout plus a margin for clocks: a worker that died
   * holding a slot frees it after that long, and a live one never loses it.
   */
  readonly leaseSeconds: number;
  /** Who holds the leases this worker takes (its log stream's name on Lambda). */
  readonly holder: string;
  /** @default Date.now */
  readonly now?: () => number;
}

/** Gives back the slots a run took (deletes its leases); once, and never throws. */
export type ReleaseLeases = () => Promise<void>;

/**
 * Concurrency limits by tag held across a fleet of workers with no server: a run carrying
 * limited tags takes a slot of each, as an object `leases/<tag>/<slot>` created with
 * `If-None-Match: *` (two workers cannot both create one), and deletes it when it ends. A lease
 * older than `leaseSeconds` was left by a worker that died: it is taken over with `If-Match` on
 * the version the listing saw, so two workers cannot both take it. A run with no limited tag
 * costs nothing.
 *
 * Cost per limited tag of a run, when a slot is free: one PUT (a random slot first) and one
 * DELETE (free on S3); when that slot was taken, one LIST and one more PUT per slot tried.
 */
export class TagLeases {
  readonly #options: TagLeasesOptions;
  readonly #now: () => number;

  constructor(options: TagLeasesOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** The tags of `tags` that have a limit (sorted, once each). */
  limited(tags: readonly string[]): string[] {
    return [...new Set(tags)].filter((tag) => this.#options.limits[tag] !== undefined).sort();
  }

  /**
   * Takes a slot of each limited tag of `tags`, for the run `what` names; `undefined` when one
   * of them has no slot free (any taken meanwhile are given back).
   */
  async acquire(tags: readonly string[], what: string): Promise<ReleaseLeases | undefined> {
    const held: string[] = [];
    const release: ReleaseLeases = async () => {
      const keys = held.splice(0);
      await Promise.all(keys.map((key) => this.#options.bucket.delete(key).catch(() => {})));
    };
    const body = new TextEncoder().encode(
      JSON.stringify({ holder: this.#options.holder, run: what, at: new Date(this.#now()).toISOString() }),
    );
    try {
      for (const tag of this.limited(tags)) {
        const key = await this.#take(tag, body);
        if (key === undefined) {
          await release();
          return undefined;
        }
        held.push(key);
      }
    } catch (error) {
      await release();
      throw error;
    }
    return release;
  }

  async #take(tag: string, body: Uint8Array): Promise<string | undefined> {
    const { bucket, limits, leaseSeconds } = this.#options;
    const limit = limits[tag] as number;
    const prefix = leasePrefix(tag);
    const first = randomInt(limit);
    if (await bucket.create(`${prefix}${first}`, body)) return `${prefix}${first}`;
    const found = new Map<number, LeaseEntry>();
    for (const entry of await bucket.entries(prefix)) {
      const slot = Number(entry.key.slice(prefix.length));
      if (Number.isInteger(slot)) found.set(slot, entry);
    }
    const oldest = this.#now() - leaseSeconds * 1000;
    for (let slot = 0; slot < limit; slot++) {
      if (slot === first) continue;
      const entry = found.get(slot);
      if (entry === undefined && (await bucket.create(`${prefix}${slot}`, body))) return `${prefix}${slot}`;
    }
    for (let slot = 0; slot < limit; slot++) {
      const entry = found.get(slot);
      if (entry && entry.lastModified < oldest && (await bucket.replace(entry.key, body, entry.etag))) {
        return entry.key;
      }
    }
    return undefined;
  }
}

/**
 * Where a tag's leases live: `leases/<tag>/` for a tag of letters, digits and `._+-`, else
 * `leases/=<the tag in base64url>/` (a key segment takes no other characters, and a tag kept
 * as it is never holds `=`, so no two tags share a prefix).
 */
export function leasePrefix(tag: string): string {
  const plain = /^[A-Za-z0-9._+-]+$/.test(tag) && tag !== "." && tag !== "..";
  return `${LEASES_PREFIX}${plain ? tag : `=${Buffer.from(tag).toString("base64url")}`}/`;
}

/** How long a run without a slot waits before it is tried again: 1 to 4 seconds, spread. */
export function leaseWaitSeconds(): number {
  return 1 + randomInt(4);
}
