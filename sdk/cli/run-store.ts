// Reads the local record of flow runs that recorder.ts writes (its format is described there):
// what `squall runs`, `squall show` and `squall logs` print, and what the dashboard serves.
import { open, readdir, readFile, stat } from "node:fs/promises";
import { setTimeout as wait } from "node:timers/promises";
import { SquallError } from "../errors.js";
import { eventsFile, parseLine, parseLines, type RecordLine, runsFolder } from "./record.js";
import { type RunDetail, RunFold, type RunSummary } from "./run-fold.js";

/** No flow run, or more than one, answers to the id prefix or name asked for. */
export class RunLookupError extends SquallError {}

/**
 * The flow runs recorded under `root`, newest first; none when there is no record yet.
 *
 * @example
 * for (const run of await listRuns(".squall")) console.log(run.name, run.state);
 */
export async function listRuns(root: string): Promise<RunSummary[]> {
  const summaries: RunSummary[] = [];
  for (const id of await runIds(root)) {
    const text = await readRecord(root, id);
    if (text === undefined) continue;
    const fold = new RunFold(id);
    for (const line of parseLines(text)) fold.add(line);
    const summary = fold.summary();
    summaries.push(summary.startedAt ? summary : { ...summary, startedAt: await modified(root, id) });
  }
  return summaries.sort((a, b) => b.startedAt - a.startedAt);
}

/**
 * A flow run with its subflows, task runs and output, found by its id, a prefix of its id, or
 * its name; throws `RunLookupError` when none or several answer.
 *
 * @example
 * const { flowRun, tasks, logs } = await readRun(".squall", "witty-otter");
 */
export async function readRun(root: string, run: string): Promise<RunDetail> {
  const id = await resolveRun(root, run);
  const fold = new RunFold(id, { keepLogs: true });
  for (const line of parseLines((await readRecord(root, id)) ?? "")) fold.add(line);
  return fold.detail();
}

/** The id of the flow run `run` names: a whole id, a prefix of one, or a flow run name. */
export async function resolveRun(root: string, run: string): Promise<string> {
  return pickRun(run, await runIds(root), () => listRuns(root), {
    where: `is recorded in ${root}`,
    lister: "squall runs",
  });
}

/**
 * The id among `ids` that `run` names: a whole id, a prefix of one, or a flow run name (looked
 * up in `list()` only then). Throws `RunLookupError` saying what to give instead.
 */
export async function pickRun(
  run: string,
  ids: readonly string[],
  list: () => Promise<readonly RunSummary[]>,
  wording: { readonly where: string; readonly lister: string },
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

export interface FollowOptions {
  /** How often the record is read for new lines. @default 100 */
  readonly pollMs?: number;
  /** How long the record must stay unchanged after the run is final before following ends. @default 500 */
  readonly settleMs?: number;
}

/**
 * Hands over every line of a flow run's record, those written so far and then each new one as
 * it is appended, until the run is final and its record has stopped growing, or `signal`
 * aborts. Resolves with the run's summary as of the last line.
 *
 * @example
 * await followRun(".squall", "witty-otter", (line) => {
 *   if (line.kind === "log") console.log(line.message);
 * });
 */
export async function followRun(
  root: string,
  run: string,
  onLine: (line: RecordLine) => void,
  signal?: AbortSignal,
  options: FollowOptions = {},
): Promise<RunSummary> {
  const pollMs = options.pollMs ?? 100;
  const settleMs = options.settleMs ?? 500;
  const id = await resolveRun(root, run);
  const path = eventsFile(root, id);
  const fold = new RunFold(id);
  let offset = 0;
  let rest: Buffer = Buffer.alloc(0);
  let lastGrowth = Date.now();
  while (!signal?.aborted) {
    const chunk = await readFrom(path, offset);
    if (chunk.length > 0) {
      offset += chunk.length;
      lastGrowth = Date.now();
      const bytes = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
      const end = bytes.lastIndexOf(0x0a) + 1; // a line still being written waits for its newline
      rest = bytes.subarray(end);
      for (const raw of bytes.subarray(0, end).toString().split("\n")) {
        const line = parseLine(raw);
        if (!line) continue;
        fold.add(line);
        onLine(line);
      }
    }
    if (fold.final && Date.now() - lastGrowth >= settleMs) break;
    await wait(pollMs, undefined, { signal }).catch(() => {}); // an abort ends the wait
  }
  return fold.summary();
}

async function runIds(root: string): Promise<string[]> {
  try {
    const entries = await readdir(runsFolder(root), { withFileTypes: true });
    return entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
}

async function readRecord(root: string, id: string): Promise<string | undefined> {
  try {
    return await readFile(eventsFile(root, id), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

async function modified(root: string, id: string): Promise<number> {
  try {
    return (await stat(eventsFile(root, id))).mtimeMs;
  } catch {
    return 0;
  }
}

/** The bytes of the file at `path` from `offset` on; none when it is not there. */
export async function readFrom(path: string, offset: number): Promise<Buffer> {
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
