import type { Outcome } from "../wire/messages.js";
import { TerminalIds, type TerminalIdsJson } from "./terminal-ids.js";

const FINAL = new Set(["completed", "failed", "crashed", "cancelled"]);

/** What a record says of its task runs, as its summary stores it. */
export interface RecordedRunsJson {
  readonly terminal: TerminalIdsJson;
  /**
   * By attempt: the runs whose outcome of that attempt is in, for attempts that retried or
   * followed a retry (as ranges, like `terminal`, so a fan-out that retries stays small).
   */
  readonly attempts?: Record<string, TerminalIdsJson>;
}

/**
 * Which outcomes a flow run's record holds: the task runs that are final, and which attempts
 * of runs that retried it has. A worker queues a retry before it reports the attempt that
 * failed, so the next attempt's outcome may come first, even make the run final, before the
 * earlier one: that one is still the run's history (its logs, its error), so it is kept, once,
 * without counting. Anything else about a final run is a repeat.
 */
export class RecordedRuns {
  readonly #terminal: TerminalIds;
  readonly #attempts = new Map<number, TerminalIds>();

  constructor(json: RecordedRunsJson) {
    this.#terminal = TerminalIds.fromJSON(json.terminal);
    for (const [attempt, ids] of Object.entries(json.attempts ?? {}))
      this.#attempts.set(Number(attempt), TerminalIds.fromJSON(ids));
  }

  /**
   * Takes `outcome` in: `"final"` when it makes its run final (the first final outcome, the one
   * that counts), `"kept"` for an attempt's outcome the record lacks, `undefined` for a repeat.
   */
  take(outcome: Outcome): "final" | "kept" | undefined {
    const { taskRunId: id, attempt } = outcome;
    if (!this.#terminal.has(id)) {
      if (FINAL.has(outcome.status)) {
        this.#terminal.add(id);
        if (attempt > 1) this.#attemptsOf(attempt).add(id);
        return "final";
      }
      if (this.#attempts.get(attempt)?.has(id)) return undefined;
      this.#attemptsOf(attempt).add(id);
      return "kept";
    }
    if (this.#attempts.get(attempt)?.has(id) || !this.#hasLater(id, attempt)) return undefined;
    this.#attemptsOf(attempt).add(id);
    return "kept";
  }

  toJSON(): RecordedRunsJson {
    const terminal = this.#terminal.toJSON();
    if (this.#attempts.size === 0) return { terminal };
    const attempts = [...this.#attempts].map(([attempt, ids]) => [String(attempt), ids.toJSON()]);
    return { terminal, attempts: Object.fromEntries(attempts) };
  }

  #hasLater(id: string, attempt: number): boolean {
    for (const [later, ids] of this.#attempts) if (later > attempt && ids.has(id)) return true;
    return false;
  }

  #attemptsOf(attempt: number): TerminalIds {
    let ids = this.#attempts.get(attempt);
    if (!ids) {
      ids = new TerminalIds();
      this.#attempts.set(attempt, ids);
    }
    return ids;
  }
}
