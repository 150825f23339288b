import type { BatchKeys } from "./batch-keys.js";
import { type Handled, type ReportOptions, report } from "./report.js";

/**
 * How long a finished run's outcome may wait for others to share its message: short next to
 * a task's own time, long enough for runs ending together to go out in one request.
 */
export const REPORT_WINDOW_MS = 50;
/**
 * Outcomes go out sooner once none has come for this long: runs that end together end within
 * it, and one that ends alone waits no longer.
 */
export const REPORT_QUIET_MS = 5;
/**
 * Outcomes that go out at once, without waiting for the window to close: about 57 KB of small
 * outcomes, under the 64 KB that SQS bills as one request.
 */
export const REPORT_BATCH = 250;

interface Pending {
  readonly part: Partial<Handled>;
  readonly order: number;
  readonly settle: (error?: unknown) => void;
}

/**
 * Reports each run as it finishes rather than when its whole batch has: what finished within
 * a short window (or once enough have, or once none has finished for a few milliseconds) goes
 * out together, one outcome message carrying many,
 * so a fast run packed with a slow one is not held back by it. Each `add` settles once its
 * outcome is on the completion queue (and its retry or stalled run back on the task queue), or
 * rejects with what failed: a message counts as handled only when all of its runs are reported.
 */
export class Reporter {
  readonly #keys: BatchKeys;
  readonly #options: ReportOptions;
  #pending: Pending[] = [];
  #timer: NodeJS.Timeout | undefined;
  #quiet: NodeJS.Timeout | undefined;
  /** When the latest outcome came (`performance.now()`). */
  #latest = 0;

  constructor(keys: BatchKeys, options: ReportOptions) {
    this.#keys = keys;
    this.#options = options;
  }

  /**
   * Reports one run's part (its outcome, retry or stall). Parts going out together keep their
   * `order` (the run's place in the batch), as a whole batch reported at once did.
   */
  add(part: Partial<Handled>, order = 0): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({
        part,
        order,
        settle: (error) => (error === undefined ? resolve() : reject(error)),
      });
      this.#latest = performance.now();
      if (this.#pending.length >= REPORT_BATCH) this.flush();
      else {
        this.#timer ??= setTimeout(() => this.flush(), REPORT_WINDOW_MS);
        this.#quiet ??= setTimeout(() => this.#flushIfQuiet(), REPORT_QUIET_MS);
      }
    });
  }

  /** Flushes once no outcome has come for `REPORT_QUIET_MS`; one timer at a time, not one per outcome. */
  #flushIfQuiet(): void {
    this.#quiet = undefined;
    if (this.#pending.length === 0) return;
    const since = performance.now() - this.#latest;
    if (since >= REPORT_QUIET_MS) this.flush();
    else this.#quiet = setTimeout(() => this.#flushIfQuiet(), REPORT_QUIET_MS - since);
  }

  /** Sends what is pending now: when nothing more is coming, waiting would only delay it. */
  flush(): void {
    clearTimeout(this.#timer);
    clearTimeout(this.#quiet);
    this.#timer = undefined;
    this.#quiet = undefined;
    const pending = this.#pending;
    if (pending.length === 0) return;
    this.#pending = [];
    const handled: Handled = { outcomes: [], retries: [], stalled: [], reloads: [], deferred: [] };
    for (const { part } of pending.toSorted((a, b) => a.order - b.order)) {
      handled.outcomes.push(...(part.outcomes ?? []));
      handled.retries.push(...(part.retries ?? []));
      handled.stalled.push(...(part.stalled ?? []));
      handled.reloads.push(...(part.reloads ?? []));
      handled.deferred.push(...(part.deferred ?? []));
    }
    report(handled, this.#keys, this.#options).then(
      () => {
        for (const { settle } of pending) settle();
      },
      (error: unknown) => {
        for (const { settle } of pending) settle(error ?? new Error("The report failed."));
      },
    );
  }
}
