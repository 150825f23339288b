// The local record of flow runs (written by ../cli/recorder.ts, format described there), read
// for every command and the dashboard. Summaries are kept per file and folded again only for
// the lines added since, since every open dashboard page polls the list. A position is a byte
// offset in the run's `events.jsonl`.
import { open, readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { mapLimit } from "../map-limit.js";
import {
  type FollowOptions,
  isRunId,
  type LineFollower,
  type ListedRun,
  pickRun,
  type RunBackend,
  type RunRecord,
} from "./backend.js";
import { followLines } from "./follow-lines.js";
import { eventsFile, parseLine, parseLines, type RecordLine, runsFolder } from "./record.js";
import { RunFold } from "./run-fold.js";

const READS_AT_ONCE = 16;

export interface LocalRunBackendOptions {
  /** How often a followed file is read when `fs.watch` reports nothing. @default 1000 */
  readonly pollMs?: number;
  /** How messages name the record's folder. @default `root`, relative to the working directory when inside it */
  readonly where?: string;
}

/**
 * The runs recorded under `root`, each in `runs/<id>/events.jsonl`.
 *
 * @example
 * const backend = new LocalRunBackend(".squall");
 * for (const run of await backend.list()) console.log(run.name, run.state);
 */
export class LocalRunBackend implements RunBackend {
  readonly root: string;
  readonly where: string;
  readonly #pollMs: number | undefined;
  /** Each run's fold so far and where it stopped: a live run's summary folds only the lines added since. */
  readonly #folds = new Map<
    string,
    { size: number; mtimeMs: number; offset: number; fold: RunFold; summary?: ListedRun }
  >();

  constructor(root: string, options: LocalRunBackendOptions = {}) {
    this.root = root;
    this.where = options.where ?? shownRoot(root);
    this.#pollMs = options.pollMs;
  }

  follow(
    id: string,
    from: number,
    onLine: (line: RecordLine, next: number) => void,
    options: FollowOptions = {},
  ): LineFollower {
    return followLines(
      eventsFile(this.root, id),
      from,
      (text, next) => {
        const line = parseLine(text);
        if (line) onLine(line, next);
      },
      { ...options, pollMs: this.#pollMs },
    );
  }

  /** Every run with a record, newest first; none when there is no record yet. */
  async list(): Promise<ListedRun[]> {
    // A few files at a time: thousands of runs must not open thousands of files at once.
    const summaries = await mapLimit(await this.#ids(), READS_AT_ONCE, (id) => this.summary(id));
    return summaries
      .filter((summary): summary is ListedRun => summary !== undefined)
      .sort((a, b) => b.startedAt - a.startedAt || a.id.localeCompare(b.id));
  }

  async resolve(run: string): Promise<string> {
    return pickRun(run, await this.#ids(), () => this.list(), {
      where: `is recorded in ${this.where}`,
      lister: "squall runs",
    });
  }

  /** One run's summary; undefined when it has no record. */
  async summary(id: string): Promise<ListedRun | undefined> {
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
    // A last line without its newline is still being written: following hands it over.
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

  /** The ids of the runs with a folder under `runs/`. */
  async #ids(): Promise<string[]> {
    try {
      return (await readdir(runsFolder(this.root), { withFileTypes: true }))
        .filter((entry) => entry.isDirectory() && isRunId(entry.name))
        .map((entry) => entry.name);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw error;
    }
  }
}

/** The root as messages name it: relative to the working directory when inside it, else as given. */
function shownRoot(root: string): string {
  const relative = path.relative(process.cwd(), path.resolve(root));
  return relative && !relative.startsWith("..") && !path.isAbsolute(relative) ? relative : root;
}

/** The bytes of the file at `path` from `offset` on; none when it is not there. */
async function readFrom(path: string, offset: number): Promise<Buffer> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(path, "r");
    const { size } = await handle.stat();
    if (size <= offset) return Buffer.alloc(0);
    const buffer = Buffer.alloc(size - offset);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
    return buffer.subarray(0, bytesRead);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return Buffer.alloc(0);
    throw error;
  } finally {
    await handle?.close();
  }
}
