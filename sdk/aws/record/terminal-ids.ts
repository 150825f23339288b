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
    let ranges = this.#ranges.get(prefix);
    if (!ranges) {
      ranges = [];
      this.#ranges.set(prefix, ranges);
    }
    // Ids mostly come in counter order: extending the last range is the common case.
    const last = ranges[ranges.length - 1];
    if (last && n === last[1] + 1) {
      last[1] = n;
      return;
    }
    // Otherwise find the first range starting after n, and join n to its neighbours.
    let low = 0;
    let high = ranges.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((ranges[mid] as [number, number])[0] <= n) low = mid + 1;
      else high = mid;
    }
    const before = ranges[low - 1];
    const after = ranges[low];
    if (before && n <= before[1]) return; // already in
    const joinsBefore = before !== undefined && n === before[1] + 1;
    const joinsAfter = after !== undefined && n === after[0] - 1;
    if (joinsBefore && joinsAfter) {
      before[1] = after[1];
      ranges.splice(low, 1);
    } else if (joinsBefore) before[1] = n;
    else if (joinsAfter) after[0] = n;
    else ranges.splice(low, 0, [n, n]);
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
