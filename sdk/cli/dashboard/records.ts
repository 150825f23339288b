// The run record (written by ../recorder.ts, format described there) as the dashboard's server
// reads it. Summaries come from the run store's fold, so the list says what `squall runs` says;
// they are kept per file and folded again only when it changed, since every open page polls the
// list. One run is served as its raw lines plus the byte offset its event stream goes on from.
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { mapLimit } from "../../map-limit.js";
import { eventsFile, parseLine, parseLines, type RecordLine, runsFolder } from "../record.js";
import { RunFold } from "../run-fold.js";
import { readFrom } from "../run-store.js";
import {
  type DashboardRunSummary,
  isRunId,
  type LineFollower,
  type RunFeed,
  type RunRecord,
} from "./feed.js";
import { followLines } from "./follow.js";

const READS_AT_ONCE = 16;

export { defaultRoot } from "../record.js";

/** The runs recorded under `root`, each in `runs/<id>/events.jsonl`; a position is a byte offset. */
export class RunRecords implements RunFeed {
  readonly root: string;
  readonly where: string;
  readonly #pollMs: number | undefined;
  /** Each run's fold so far and where it stopped: a live run's summary folds only the lines added since. */
  readonly #folds = new Map<
    string,
    { size: number; mtimeMs: number; offset: number; fold: RunFold; summary?: DashboardRunSummary }
  >();

  /** `pollMs`: how often a followed file is read when `fs.watch` reports nothing. */
  constructor(root: string, options: { readonly pollMs?: number } = {}) {
    this.root = root;
    this.where = shownRoot(root);
    this.#pollMs = options.pollMs;
  }

  follow(id: string, from: number, onLine: (text: string, next: number) => void): LineFollower {
    return followLines(eventsFile(this.root, id), from, onLine, { pollMs: this.#pollMs });
  }

  /** Every run with a record, newest first. */
  async list(): Promise<DashboardRunSummary[]> {
    let ids: string[];
    try {
      ids = (await readdir(runsFolder(this.root), { withFileTypes: true }))
        .filter((entry) => entry.isDirectory() && isRunId(entry.name))
        .map((entry) => entry.name);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw error;
    }
    // A few files at a time: thousands of runs must not open thousands of files at once.
    const summaries = await mapLimit(ids, READS_AT_ONCE, (id) => this.summary(id));
    return summaries
      .filter((summary): summary is DashboardRunSummary => summary !== undefined)
      .sort((a, b) => b.startedAt - a.startedAt || a.id.localeCompare(b.id));
  }

  /** One run's summary; undefined when it has no record. */
  async summary(id: string): Promise<DashboardRunSummary | undefined> {
    if (!isRunId(id)) return undefined;
    const stats = await stat(eventsFile(this.root, id)).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return undefined;
      throw error;
    });
    if (!stats) return undefined;
    let kept = this.#folds.get(id);
    if (kept?.summary && kept.size === stats.size && kept.mtimeMs === stats.mtimeMs) return kept.summary;
    if (!kept || stats.size < kept.offset) {
      kept = { size: 0, mtimeMs: 0, offset: 0, fold: new RunFold(id) }; // new, or written anew
    }
    const added = await readFrom(eventsFile(this.root, id), kept.offset);
    // A last line without its newline is still being written: it is folded once it is whole.
    const whole = added.lastIndexOf(10) + 1;
    for (const line of parseLines(added.toString("utf8", 0, whole))) kept.fold.add(line);
    kept.offset += whole;
    const summary = { ...kept.fold.summary(), final: kept.fold.final };
    // A record with no time in it yet (only a line being written) sorts by the file's age.
    if (!summary.startedAt) summary.startedAt = stats.mtimeMs;
    Object.assign(kept, { size: stats.size, mtimeMs: stats.mtimeMs, summary });
    this.#folds.set(id, kept);
    return summary;
  }

  /** One run's complete lines so far; undefined when it has no record. */
  async read(id: string): Promise<RunRecord | undefined> {
    if (!isRunId(id)) return undefined;
    let bytes: Buffer;
    try {
      bytes = await readFile(eventsFile(this.root, id));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
    // A last line without its newline is still being written: the events stream sends it.
    const offset = bytes.lastIndexOf(10) + 1;
    const fold = new RunFold(id);
    const events: RecordLine[] = [];
    for (const text of bytes.toString("utf8", 0, offset).split("\n")) {
      const line = parseLine(text);
      if (!line) continue;
      fold.add(line);
      events.push(line);
    }
    return { summary: { ...fold.summary(), final: fold.final }, events, offset };
  }
}

/** The root as the page shows it: relative to the working directory when inside it, else its last part. */
function shownRoot(root: string): string {
  const relative = path.relative(process.cwd(), path.resolve(root));
  return relative && !relative.startsWith("..") && !path.isAbsolute(relative)
    ? relative
    : path.basename(root);
}
