// The run record (written by ../recorder.ts, format described there) as the dashboard's server
// reads it. Summaries come from the run store's fold, so the list says what `squall runs` says;
// they are kept per file and folded again only when it changed, since every open page polls the
// list. One run is served as its raw lines plus the byte offset its event stream goes on from.
import { readdir, readFile, stat } from "node:fs/promises";
import { parseLine, type RecordLine, runsFolder } from "../record.js";
import { eventsFile, RunFold, type RunSummary } from "../run-store.js";

export { defaultRoot, eventsFile } from "../run-store.js";

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

/** Whether `id` can name a run folder: one path segment, no traversal. */
export function isRunId(id: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/.test(id) && !id.includes("..");
}

export class RunRecords {
  readonly root: string;
  readonly #summaries = new Map<string, { size: number; mtimeMs: number; summary: DashboardRunSummary }>();

  constructor(root: string) {
    this.root = root;
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
    const summaries = await Promise.all(ids.map((id) => this.summary(id)));
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
    const kept = this.#summaries.get(id);
    if (kept && kept.size === stats.size && kept.mtimeMs === stats.mtimeMs) return kept.summary;
    const run = await this.read(id);
    if (!run) return undefined;
    // A record with no time in it yet (only a line being written) sorts by the file's age.
    const summary = run.summary.startedAt ? run.summary : { ...run.summary, startedAt: stats.mtimeMs };
    this.#summaries.set(id, { size: stats.size, mtimeMs: stats.mtimeMs, summary });
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
