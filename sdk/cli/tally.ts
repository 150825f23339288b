import type { RunEvent } from "../observe.js";
import { type Colors, describeCounts, formatDuration } from "./format.js";
import { type CountKey, countOf, emptyCounts, isFinalState, type RunCounts } from "./record.js";

/** Task runs by kind of state as a run goes, for the live display and the plain progress lines. */
export class Tally {
  readonly counts: RunCounts = emptyCounts();
  readonly startedAt: number;
  readonly #states = new Map<string, CountKey>();
  #finished = 0;
  #changes = 0;

  constructor(startedAt = Date.now()) {
    this.startedAt = startedAt;
  }

  /** Changes so far: a reporter prints a progress line only when this moved. */
  get changes(): number {
    return this.#changes;
  }

  add(event: RunEvent): void {
    if (event.kind !== "task") return;
    const before = this.#states.get(event.id);
    const after = countOf(event.state);
    if (before === after) return;
    if (before) this.counts[before] -= 1;
    this.counts[after] += 1;
    this.#states.set(event.id, after);
    const wasFinal = before !== undefined && before !== "pending" && before !== "running";
    if (isFinalState(event.state) && !wasFinal) this.#finished += 1;
    this.#changes += 1;
  }

  /**
   * `3 pending, 2 running, 10 completed, 0 failed · 4.20 s · 2.4 task runs/s`; without the rate
   * when `withRate` is false (a cancelled run's, which says nothing of how fast runs go).
   */
  describe(now = Date.now(), colors?: Colors, withRate = true): string {
    const elapsed = Math.max(now - this.startedAt, 0);
    const counted = `${describeCounts(this.counts, colors)} · ${formatDuration(elapsed)}`;
    if (!withRate) return counted;
    const rate = elapsed > 0 ? this.#finished / (elapsed / 1000) : 0;
    return `${counted} · ${formatRate(rate)} task runs/s`;
  }
}

function formatRate(rate: number): string {
  return rate >= 100 ? String(Math.round(rate)) : rate.toFixed(1);
}
