import type { RecordLine } from "./record.js";
import type { RunDetail, RunSummary } from "./run-fold.js";
import { followRun, listRuns, RunLookupError, readRun } from "./run-store.js";
import { UsageError } from "./usage-error.js";

/** Where `squall runs`, `show` and `logs` read flow runs: the local record, or a stack's bucket. */
export interface RunSource {
  /** Where, for messages: the record's folder, or the stack and its bucket. */
  readonly where: string;
  list(): Promise<RunSummary[]>;
  read(run: string): Promise<RunDetail>;
  /** Every line of the run's record, then each new one, until the run is final or `signal` aborts. */
  follow(run: string, onLine: (line: RecordLine) => void, signal: AbortSignal): Promise<RunSummary>;
}

/** The local record under `root`; a run that is not there is a `UsageError`. */
export function localSource(root: string): RunSource {
  return {
    where: root,
    list: () => listRuns(root),
    read: (run) => asUsage(readRun(root, run)),
    follow: (run, onLine, signal) => asUsage(followRun(root, run, onLine, signal)),
  };
}

export async function asUsage<T>(promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } catch (error) {
    if (error instanceof RunLookupError) throw new UsageError(error.message, { cause: error });
    throw error;
  }
}
