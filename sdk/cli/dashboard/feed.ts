// What the dashboard's server reads flow runs through: the local record (records.ts), or a
// deployed stack's bucket (squall/aws's cli/bucket-feed.ts). Both hand over the lines of the local
// record's format (../recorder.ts), so the page reads either alike.
import type { RecordLine } from "../record.js";
import type { RunSummary } from "../run-fold.js";

/** A flow run as the list shows it: the run store's summary, and whether it is final. */
export interface DashboardRunSummary extends RunSummary {
  readonly final: boolean;
}

/** One flow run with every complete line recorded so far. */
export interface RunRecord {
  readonly summary: DashboardRunSummary;
  readonly events: RecordLine[];
  /** Where the next line starts: the events stream goes on from there. */
  readonly offset: number;
}

export interface LineFollower {
  /** Settles when the lines there were at the start have been handed over. */
  readonly caughtUp: Promise<void>;
  stop(): void;
}

export interface RunFeed {
  /** Where the runs are, as the page's header shows it: the record's folder, or the stack. */
  readonly where: string;
  /** Every run, newest first. */
  list(): Promise<DashboardRunSummary[]>;
  /** One run's summary; undefined when there is no such run. */
  summary(id: string): Promise<DashboardRunSummary | undefined>;
  /** One run's lines so far; undefined when there is no such run. */
  read(id: string): Promise<RunRecord | undefined>;
  /**
   * Hands over each line of the run's record from position `from` (a `RunRecord.offset`, or a
   * `next` handed over before) on, as JSON text with the position after it, until stopped.
   */
  follow(id: string, from: number, onLine: (text: string, next: number) => void): LineFollower;
}

/** Whether `id` can name a flow run: one path segment, no traversal. */
export function isRunId(id: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/.test(id) && !id.includes("..");
}
