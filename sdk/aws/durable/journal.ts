import { SquallError } from "../../errors.js";
import { serialOf, taskRunId } from "../../ids.js";
import { runPrefix } from "../../storage/keys.js";

/**
 * A durable flow run's journal of what its drivers sent (`runs/<id>/journal/<n>`): before a
 * driver sends task runs it appends one entry naming them (by their ids, which follow the flow's
 * call order, with their task's name), so that a driver resuming the run knows which runs are out
 * (to await, never to send again) and which task each call submitted (to catch a flow that does
 * not submit the same tasks again). Entries are created with `If-None-Match: *` at the next
 * number: two drivers cannot both write one, which is how a driver that was superseded (its
 * invocation thawed after another took the run over) learns it and stops sending.
 *
 * Cost: one PUT per send (a turn's submitted runs go out together), and on resume one GET per
 * entry from the last one a handoff compacted (see `snapshot`).
 */
export interface JournalEntry {
  /** The driver (invocation) that wrote it. */
  readonly driver: string;
  /**
   * Runs sent: `[id prefix, first serial, last serial, task name]`, runs of one task with
   * consecutive ids together (see `ids.ts`: an id is its prefix and its serial in base 36).
   */
  readonly sent: readonly (readonly [string, number, number, string])[];
  /** Durable sleeps begun: `[call id, when it ends (ms since epoch)]`; a sleep takes a place in the call order. */
  readonly sleeps?: readonly (readonly [string, number])[];
  /** Set by a driver taking the run over: `sent` then holds every run sent before, so reading starts here. */
  readonly snapshot?: true;
}

/** What the journal takes of a bucket. */
export interface JournalStore {
  get(key: string): Promise<Uint8Array | undefined>;
  create(key: string, value: Uint8Array): Promise<boolean>;
}

/** Thrown to a driver whose journal entry lost to another driver's: the run is no longer its to drive. */
export class SupersededError extends SquallError {}

export function journalKey(flowRunId: string, entry: number): string {
  return `${runPrefix(flowRunId)}journal/${entry}`;
}

/** The journal as a driver knows it: every run sent, by serial, and where the next entry goes. */
export class Journal {
  readonly #store: JournalStore;
  readonly #flowRunId: string;
  readonly #driver: string;
  /** Task name by task run id, of every run any driver sent. */
  readonly #sent = new Map<string, string>();
  /** When each durable sleep ends, by its call's id. */
  readonly #sleeps = new Map<string, number>();
  #next: number;
  #superseded = false;

  private constructor(store: JournalStore, flowRunId: string, driver: string, next: number) {
    this.#store = store;
    this.#flowRunId = flowRunId;
    this.#driver = driver;
    this.#next = next;
  }

  /** A new run's journal: nothing sent yet. */
  static fresh(store: JournalStore, flowRunId: string, driver: string): Journal {
    return new Journal(store, flowRunId, driver, 0);
  }

  /**
   * Takes a run over: reads the journal from entry `from` (a snapshot, or 0) to its end, then
   * writes a snapshot entry of it all, at the next free number. An entry written meanwhile by the
   * driver it takes over from is read and included, and the snapshot tried at the number after.
   */
  static async takeOver(store: JournalStore, flowRunId: string, driver: string, from = 0): Promise<Journal> {
    const journal = new Journal(store, flowRunId, driver, from);
    for (;;) {
      await journal.#readOn();
      const entry: JournalEntry = {
        driver,
        sent: journal.#ranges(journal.#sent),
        ...(journal.#sleeps.size > 0 && { sleeps: [...journal.#sleeps] }),
        snapshot: true,
      };
      if (await journal.#create(entry)) return journal;
    }
  }

  /** The entry a resume may start reading from: the last snapshot this driver knows of. */
  get snapshotAt(): number {
    return this.#snapshotAt;
  }
  #snapshotAt = 0;

  /** The task name of the run of this id that a driver sent, if one did. */
  sentTask(id: string): string | undefined {
    return this.#sent.get(id);
  }

  /** When the durable sleep of the call of this id ends, if one began there. */
  sleepEnd(id: string): number | undefined {
    return this.#sleeps.get(id);
  }

  /** Records a durable sleep as begun; throws `SupersededError` as `append` does. */
  async appendSleep(id: string, endsAt: number): Promise<void> {
    if (this.#superseded) throw this.#supersededError();
    if (!(await this.#create({ driver: this.#driver, sent: [], sleeps: [[id, endsAt]] }))) {
      this.#superseded = true;
      throw this.#supersededError();
    }
    this.#sleeps.set(id, endsAt);
  }

  /** How many runs drivers sent. */
  get size(): number {
    return this.#sent.size;
  }

  /** The ids of every run sent. */
  ids(): IterableIterator<string> {
    return this.#sent.keys();
  }

  get superseded(): boolean {
    return this.#superseded;
  }

  /**
   * Records runs as sent, before they are: throws `SupersededError` if another driver has taken
   * the run over, in which case nothing may be sent.
   */
  async append(runs: readonly { readonly id: string; readonly task: string }[]): Promise<void> {
    if (this.#superseded) throw this.#supersededError();
    const fresh = runs.filter(({ id }) => !this.#sent.has(id));
    if (fresh.length === 0) return;
    const adding = new Map(fresh.map(({ id, task }) => [id, task]));
    if (!(await this.#create({ driver: this.#driver, sent: this.#ranges(adding) }))) {
      this.#superseded = true;
      throw this.#supersededError();
    }
    for (const [id, task] of adding) this.#sent.set(id, task);
  }

  async #readOn(): Promise<void> {
    for (;;) {
      const bytes = await this.#store.get(journalKey(this.#flowRunId, this.#next));
      if (!bytes) return;
      const entry = parseEntry(bytes, this.#flowRunId, this.#next);
      if (entry.snapshot) {
        this.#sent.clear();
        this.#sleeps.clear();
        this.#snapshotAt = this.#next;
      }
      for (const [prefix, from, to, task] of entry.sent) {
        for (let serial = from; serial <= to; serial++) this.#sent.set(taskRunId(prefix, serial), task);
      }
      for (const [id, endsAt] of entry.sleeps ?? []) this.#sleeps.set(id, endsAt);
      this.#next += 1;
    }
  }

  async #create(entry: JournalEntry): Promise<boolean> {
    const bytes = new TextEncoder().encode(JSON.stringify(entry));
    const created = await this.#store.create(journalKey(this.#flowRunId, this.#next), bytes);
    if (!created) return false;
    if (entry.snapshot) this.#snapshotAt = this.#next;
    this.#next += 1;
    return true;
  }

  #ranges(runs: ReadonlyMap<string, string>): [string, number, number, string][] {
    const parsed = [...runs].map(([id, task]) => {
      const [prefix, serial] = splitId(id);
      return { prefix, serial, task };
    });
    parsed.sort((a, b) => (a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : a.serial - b.serial));
    const ranges: [string, number, number, string][] = [];
    for (const { prefix, serial, task } of parsed) {
      const last = ranges[ranges.length - 1];
      if (last && last[0] === prefix && last[2] === serial - 1 && last[3] === task) last[2] = serial;
      else ranges.push([prefix, serial, serial, task]);
    }
    return ranges;
  }

  #supersededError(): SupersededError {
    return new SupersededError(
      `Flow run ${this.#flowRunId} was taken over by another invocation of the flow-runner; this one stops driving it.`,
    );
  }
}

/** A task run id's prefix and serial; squall's ids are `taskRunId()`'s. */
function splitId(id: string): [string, number] {
  const dash = id.lastIndexOf("-");
  const serial = serialOf(id);
  if (dash < 0 || serial === undefined) {
    throw new SquallError(`Expected a task run id of the form <prefix>-<serial>, got \`${id}\``);
  }
  return [id.slice(0, dash), serial];
}

function parseEntry(bytes: Uint8Array, flowRunId: string, entry: number): JournalEntry {
  try {
    const json = JSON.parse(new TextDecoder().decode(bytes)) as JournalEntry;
    if (typeof json.driver === "string" && Array.isArray(json.sent)) return json;
  } catch {
    // reported below
  }
  throw new SquallError(
    `Entry ${entry} of flow run ${flowRunId}'s journal (${journalKey(flowRunId, entry)}) is not one squall wrote; the run cannot be resumed.`,
  );
}
