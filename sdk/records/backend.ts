// The one reader of flow run records behind `squall runs`, `show`, `logs` and the dashboard. Two
// backends implement it: the local record that `squall run` writes (local-backend.ts), and a
// bucket that a deployed stack or the kept local environment writes (squall/aws's
// records/bucket-backend.ts). Both hand over the lines of the local record's format
// (record.ts), so every reader reads either alike.
import { SquallError } from "../errors.js";
import type { RecordLine } from "./record.js";
import type { RunSummary } from "./run-fold.js";

/** A flow run as listed: its summary, and whether it is final. */
export interface ListedRun extends RunSummary {
  readonly final: boolean;
}

/** One flow run with every complete line recorded so far. */
export interface RunRecord {
  readonly summary: ListedRun;
  readonly events: RecordLine[];
  /** Where the next line starts: following goes on from there. */
  readonly offset: number;
}

export interface LineFollower {
  /** Settles when the lines there were at the start have been handed over. */
  readonly caughtUp: Promise<void>;
  stop(): void;
}

export interface FollowOptions {
  /**
   * Told of each read that failed, with how many have failed in a row; following goes on
   * reading (a fault now and then is the store's), unless the caller stops it.
   */
  readonly onError?: (error: Error, inARow: number) => void;
  /**
   * Keep the process running while following, as a command that follows a run to its end
   * needs; a server that follows for its pages need not. @default false
   */
  readonly keepAlive?: boolean;
}

/**
 * Where flow run records are read from. A run is named by its id everywhere but `resolve`,
 * which also takes a prefix of an id or a flow run name.
 *
 * @example
 * const backend = new LocalRunBackend(".squall");
 * const id = await backend.resolve("witty-otter");
 * const record = await backend.read(id);
 */
export interface RunBackend {
  /** Where the runs are, for messages and the dashboard's header: the record's folder, or the bucket. */
  readonly where: string;
  /** Every run, newest first. */
  list(): Promise<ListedRun[]>;
  /**
   * The id of the run `run` names: a whole id, a prefix of one, or a flow run name. Throws
   * `RunLookupError` when none or several answer.
   */
  resolve(run: string): Promise<string>;
  /** One run's summary; undefined when there is no such run. */
  summary(id: string): Promise<ListedRun | undefined>;
  /** One run's lines so far; undefined when there is no such run. */
  read(id: string): Promise<RunRecord | undefined>;
  /**
   * Hands over each line of the run's record from position `from` (a `RunRecord.offset`, or a
   * `next` handed over before) on, with the position after it, until stopped.
   */
  follow(
    id: string,
    from: number,
    onLine: (line: RecordLine, next: number) => void,
    options?: FollowOptions,
  ): LineFollower;
}

/** No flow run, or more than one, answers to the id prefix or name asked for. */
export class RunLookupError extends SquallError {}

/** The store that holds the records refused to be read (no such bucket, no permission). */
export class RecordsUnreadableError extends SquallError {}

/** Whether `id` can name a flow run: one path segment, no traversal. */
export function isRunId(id: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/.test(id) && !id.includes("..");
}

/** How a backend's lookup messages word where it looked, and what lists the runs there. */
export interface LookupWording {
  /** `is recorded in .squall`, `in stack 'Squall' (bucket ...)`. */
  readonly where: string;
  /** The command that lists the runs there: `squall runs`. */
  readonly lister: string;
}

/**
 * The id among `ids` that `run` names: a whole id, a prefix of one, or a flow run name (looked
 * up in `list()` only then). Throws `RunLookupError` saying what to give instead.
 */
export async function pickRun(
  run: string,
  ids: readonly string[],
  list: () => Promise<readonly RunSummary[]>,
  wording: LookupWording,
): Promise<string> {
  if (ids.includes(run)) return run;
  const byPrefix = ids.filter((id) => id.startsWith(run));
  if (byPrefix.length === 1) return byPrefix[0] as string;
  if (byPrefix.length > 1) {
    throw new RunLookupError(
      `${byPrefix.length} flow runs have ids starting \`${run}\` (${byPrefix.slice(0, 5).join(", ")}${byPrefix.length > 5 ? ", ..." : ""}): give more of the id.`,
    );
  }
  const byName = (await list()).filter((summary) => summary.name === run);
  if (byName.length === 1) return (byName[0] as RunSummary).id;
  if (byName.length > 1) {
    throw new RunLookupError(
      `${byName.length} flow runs are named '${run}' (${byName.map((summary) => summary.id).join(", ")}): give the id instead.`,
    );
  }
  throw new RunLookupError(
    `No flow run \`${run}\` ${wording.where}: \`${wording.lister}\` lists them (by id, or name such as \`witty-otter\`).`,
  );
}
