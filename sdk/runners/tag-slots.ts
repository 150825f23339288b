import { InvalidArgumentError } from "../errors.js";
import type { AttemptOutcome, TaskAttempt, TaskInvoker } from "./task-runner.js";

/** Most runs carrying a tag that may run at once, by tag (Prefect's task concurrency limits). */
export type TagLimits = Readonly<Record<string, number>>;

/**
 * Checks a `tagLimits` option: each limit an integer >= 1 under a non-empty tag. Returns a
 * frozen copy, or `undefined` when none is set.
 */
export function checkTagLimits(limits: unknown, option = "tagLimits"): TagLimits | undefined {
  if (limits === undefined) return undefined;
  if (limits === null || typeof limits !== "object" || Array.isArray(limits)) {
    throw new InvalidArgumentError(
      `Expected \`${option}\` to be an object of tag → limit, got \`${JSON.stringify(limits)}\``,
    );
  }
  const checked: Record<string, number> = {};
  for (const [tag, limit] of Object.entries(limits)) {
    if (tag === "") throw new InvalidArgumentError(`Expected the tags of \`${option}\` to be non-empty`);
    if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1) {
      throw new InvalidArgumentError(
        `Expected \`${option}.${tag}\` to be an integer >= 1, got \`${typeof limit === "number" ? String(limit) : JSON.stringify(limit)}\``,
      );
    }
    checked[tag] = limit;
  }
  return Object.freeze(checked);
}

interface Waiter {
  readonly tags: readonly string[];
  readonly grant: () => void;
}

/**
 * Slots per limited tag, held in this process. A run takes one slot of each limited tag it
 * carries, all at once, and gives them back when it ends. Runs waiting for a tag are served in
 * the order they asked, so a run never overtakes an earlier one sharing a tag with it (an
 * upstream run is submitted, and asks, before its downstream runs).
 */
export class TagSlots {
  readonly #limits: TagLimits;
  readonly #held = new Map<string, number>();
  #waiting: Waiter[] = [];

  constructor(limits: TagLimits) {
    this.#limits = limits;
  }

  /** The tags of `tags` that have a limit here (none: the run needs no slot). */
  limited(tags: readonly string[]): string[] {
    return [...new Set(tags)].filter((tag) => this.#limits[tag] !== undefined);
  }

  /** Runs held now for a tag. */
  holding(tag: string): number {
    return this.#held.get(tag) ?? 0;
  }

  /**
   * Takes a slot of each of `tags` (from `limited`), at once when free, else once freed; the
   * returned function gives them back (once).
   */
  acquire(tags: readonly string[]): Promise<() => void> | (() => void) {
    if (tags.length === 0) return () => {};
    if (!this.#blocked(tags, this.#waiting.length)) return this.#take(tags);
    return new Promise((resolve) => {
      this.#waiting.push({ tags, grant: () => resolve(this.#take(tags)) });
    });
  }

  #free(tag: string): boolean {
    return this.holding(tag) < (this.#limits[tag] ?? Number.POSITIVE_INFINITY);
  }

  /** Whether a run needing `tags` must wait: a slot is full, or one of the first `before` waiters shares a tag. */
  #blocked(tags: readonly string[], before: number): boolean {
    if (!tags.every((tag) => this.#free(tag))) return true;
    for (let i = 0; i < before; i++) {
      const earlier = this.#waiting[i] as Waiter;
      if (earlier.tags.some((tag) => tags.includes(tag))) return true;
    }
    return false;
  }

  #take(tags: readonly string[]): () => void {
    for (const tag of tags) this.#held.set(tag, this.holding(tag) + 1);
    let given = false;
    return () => {
      if (given) return;
      given = true;
      for (const tag of tags) this.#held.set(tag, this.holding(tag) - 1);
      this.#serve();
    };
  }

  #serve(): void {
    for (let i = 0; i < this.#waiting.length; ) {
      const waiter = this.#waiting[i] as Waiter;
      if (this.#blocked(waiter.tags, i)) {
        i++;
        continue;
      }
      this.#waiting.splice(i, 1);
      waiter.grant();
    }
  }
}

/**
 * An invoker that runs each attempt through `inner` once it holds a slot of each limited tag of
 * its run, and gives them back when the attempt ends: for runners whose attempts run elsewhere
 * (threads). An attempt stopped while it waits for slots is dropped, never started.
 */
export function limitedInvoker(inner: TaskInvoker, slots: TagSlots): TaskInvoker {
  const stopped = new WeakSet<TaskAttempt>();
  return {
    retriesElsewhere: inner.retriesElsewhere,
    async invoke(attempt: TaskAttempt): Promise<AttemptOutcome> {
      const tags = slots.limited(attempt.taskRun.tags);
      if (tags.length === 0) return inner.invoke(attempt);
      const release = await slots.acquire(tags);
      try {
        if (stopped.has(attempt)) return { status: "crashed", error: new Error("stopped before it started") };
        return await inner.invoke(attempt);
      } finally {
        release();
      }
    },
    stop(attempt: TaskAttempt, reason: Error): void {
      stopped.add(attempt);
      inner.stop(attempt, reason);
    },
  };
}
