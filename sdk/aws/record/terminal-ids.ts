/**
 * The set of task run ids that reached a final state, kept small: ids of one process look like
 * `<prefix>-<counter in base 36>`, so they are stored as ranges of counters per prefix
 * (10,000 tasks of one flow run take a few bytes, not 200 KB). Other ids are kept as they are.
 */
export interface TerminalIdsJson {
  readonly ranges: Record<string, [number, number][]>;
  readonly others: string[];
}

const SERIAL_ID = /^([0-9a-f]+)-([0-9a-z]+)$/;

export class TerminalIds {
  readonly #ranges = new Map<string, [number, number][]>();
  readonly #others = new Set<string>();

  static fromJSON(json: TerminalIdsJson | undefined): TerminalIds {
    const ids = new TerminalIds();
    if (!json) return ids;
    for (const [prefix, ranges] of Object.entries(json.ranges))
      ids.#ranges.set(
        prefix,
        ranges.map(([a, b]) => [a, b]),
      );
    for (const other of json.others) ids.#others.add(other);
    return ids;
  }

  has(id: string): boolean {
    const match = SERIAL_ID.exec(id);
    if (!match) return this.#others.has(id);
    const n = Number.parseInt(match[2] as string, 36);
    return (this.#ranges.get(match[1] as string) ?? []).some(([from, to]) => n >= from && n <= to);
  }

  add(id: string): void {
    const match = SERIAL_ID.exec(id);
    if (!match) {
      this.#others.add(id);
      return;
    }
    const prefix = match[1] as string;
    const n = Number.parseInt(match[2] as string, 36);
    const ranges = this.#ranges.get(prefix) ?? [];
    ranges.push([n, n]);
    ranges.sort((a, b) => a[0] - b[0]);
    const merged: [number, number][] = [];
    for (const range of ranges) {
      const last = merged[merged.length - 1];
      if (last && range[0] <= last[1] + 1) last[1] = Math.max(last[1], range[1]);
      else merged.push([range[0], range[1]]);
    }
    this.#ranges.set(prefix, merged);
  }

  /** Every id in the set. */
  *ids(): Generator<string> {
    for (const [prefix, ranges] of this.#ranges) {
      for (const [from, to] of ranges) for (let n = from; n <= to; n++) yield `${prefix}-${n.toString(36)}`;
    }
    yield* this.#others;
  }

  toJSON(): TerminalIdsJson {
    return { ranges: Object.fromEntries(this.#ranges), others: [...this.#others] };
  }
}
