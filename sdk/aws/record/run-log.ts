import { SquallError } from "../../errors.js";
import { runPrefix } from "../../storage/keys.js";
import type { Versioned } from "../s3-store.js";
import { type FlowReturned, type Outcome, WIRE_VERSION } from "../wire/messages.js";
import { RecordedRuns } from "./recorded-runs.js";
import type { TerminalIdsJson } from "./terminal-ids.js";

/**
 * The record of a flow run in the bucket: append-only segments of outcomes, and a summary
 * that caches what the segments say. Segments are the truth: each is created at the next
 * number with a conditional create, so racing writers cannot both take a number, and a writer
 * that died between its segment and the summary leaves nothing the next writer cannot repair.
 * Each attempt's outcome is recorded once and the first final outcome of a task run counts, so
 * a redelivered outcome counts once; an earlier attempt's outcome that comes after the run's
 * final one is still recorded (see `RecordedRuns`).
 */
export interface RecordStore {
  read(key: string, unlessEtag?: string): Promise<Versioned | "unchanged" | undefined>;
  create(key: string, value: Uint8Array): Promise<boolean>;
  replace(key: string, value: Uint8Array, etag: string): Promise<boolean>;
}

export interface RunSummary {
  readonly v: typeof WIRE_VERSION;
  /** The number the next segment takes. */
  nextSegment: number;
  counts: { completed: number; failed: number; crashed: number; cancelled: number };
  terminal: TerminalIdsJson;
  /** Which attempts' outcomes are in, for task runs that retried (see `RecordedRuns`). */
  attempts?: Record<string, TerminalIdsJson>;
  /** The caller's notice that the flow function returned, once it has come. */
  returned?: FlowReturned;
  /** The flow run's final state: set once it returned and every task run it sent is final. */
  state?: FlowReturned["state"];
}

export interface Segment {
  readonly v: typeof WIRE_VERSION;
  readonly outcomes: Outcome[];
  readonly returned?: FlowReturned;
}

export function summaryKey(flowRunId: string): string {
  return `${runPrefix(flowRunId)}summary`;
}

export function segmentKey(flowRunId: string, n: number): string {
  return `${runPrefix(flowRunId)}log/${String(n).padStart(8, "0")}`;
}

const MAX_ROUNDS = 50;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Appends the outcomes not yet recorded, and the flow-returned notice if not yet recorded, as
 * one segment; how many outcomes it recorded.
 */
export async function appendOutcomes(
  store: RecordStore,
  flowRunId: string,
  outcomes: readonly Outcome[],
  returned?: FlowReturned,
): Promise<number> {
  return (await appendToRecord(store, flowRunId, outcomes, returned)).recorded;
}

/**
 * As `appendOutcomes`, also telling the summary it left and whether the run became final with
 * it. `beforeSegment` is awaited before each segment is written, with the summary as it stands
 * (the writer may need a way back should it die before the summary catches up).
 */
export async function appendToRecord(
  store: RecordStore,
  flowRunId: string,
  outcomes: readonly Outcome[],
  returned?: FlowReturned,
  beforeSegment?: (summary: RunSummary) => Promise<void>,
): Promise<{ recorded: number; summary: RunSummary; becameFinal: boolean }> {
  let { summary, etag } = await loadSummary(store, flowRunId);
  let stored = summary;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const notice = summary.returned ? undefined : returned;
    const { next, fresh } = fold(summary, outcomes, notice);
    if (fresh.length === 0 && !notice) {
      // Nothing new, but the segments may hold what the stored summary lacks (their writer
      // died before its summary, or its summary write was lost): write what they say.
      if (summary.nextSegment === stored.nextSegment) return { recorded: 0, summary, becameFinal: false };
      await updateSummary(store, flowRunId, summary, etag);
      return { recorded: 0, summary, becameFinal: stored.state === undefined && summary.state !== undefined };
    }
    const segment: Segment = notice
      ? { v: WIRE_VERSION, outcomes: fresh, returned: notice }
      : { v: WIRE_VERSION, outcomes: fresh };
    await beforeSegment?.(summary);
    if (await store.create(segmentKey(flowRunId, summary.nextSegment), encode(segment))) {
      next.nextSegment += 1;
      await updateSummary(store, flowRunId, next, etag);
      const becameFinal = summary.state === undefined && next.state !== undefined;
      return { recorded: fresh.length, summary: next, becameFinal };
    }
    // Another writer took that number (or died before updating the summary): fold what it wrote.
    ({ summary, etag } = await loadSummary(store, flowRunId));
    stored = summary;
    summary = await catchUp(store, flowRunId, summary);
  }
  throw new SquallError(`Could not append to the record of flow run ${flowRunId} after ${MAX_ROUNDS} tries.`);
}

/**
 * Makes the run's summary say what its segments say, when it trails them (a writer died
 * between its segment and its summary, or its summary write was lost); the summary after, and
 * whether that made the run final. One GET of the summary and one of the next segment when
 * nothing is missing.
 */
export async function repairSummary(
  store: RecordStore,
  flowRunId: string,
): Promise<{ summary: RunSummary | undefined; becameFinal: boolean }> {
  const found = await store.read(summaryKey(flowRunId));
  const stored = found && found !== "unchanged" ? found : undefined;
  const before = stored ? (decode(stored.bytes) as RunSummary) : emptySummary();
  const summary = await catchUp(store, flowRunId, before);
  if (summary.nextSegment === before.nextSegment) return { summary: stored && before, becameFinal: false };
  await updateSummary(store, flowRunId, summary, stored?.etag);
  return { summary, becameFinal: before.state === undefined && summary.state !== undefined };
}

/** The run's summary as last written (it may trail the segments), or `undefined` before any. */
export async function readSummary(store: RecordStore, flowRunId: string): Promise<RunSummary | undefined> {
  const found = await store.read(summaryKey(flowRunId));
  return found && found !== "unchanged" ? (decode(found.bytes) as RunSummary) : undefined;
}

/** Segments from number `from` on, as far as they go; `next` is where to read next time. */
export async function readSegments(
  store: RecordStore,
  flowRunId: string,
  from: number,
): Promise<{ segments: Segment[]; next: number }> {
  const segments: Segment[] = [];
  let next = from;
  for (;;) {
    const found = await store.read(segmentKey(flowRunId, next));
    if (!found || found === "unchanged") return { segments, next };
    segments.push(decode(found.bytes) as Segment);
    next += 1;
  }
}

async function loadSummary(
  store: RecordStore,
  flowRunId: string,
): Promise<{ summary: RunSummary; etag?: string }> {
  const found = await store.read(summaryKey(flowRunId));
  if (!found || found === "unchanged") return { summary: emptySummary() };
  return { summary: decode(found.bytes) as RunSummary, etag: found.etag };
}

function emptySummary(): RunSummary {
  return {
    v: WIRE_VERSION,
    nextSegment: 0,
    counts: { completed: 0, failed: 0, crashed: 0, cancelled: 0 },
    terminal: { ranges: {}, others: [] },
  };
}

/** `summary` with every segment written past what it knows folded in. */
async function catchUp(store: RecordStore, flowRunId: string, summary: RunSummary): Promise<RunSummary> {
  const { segments, next } = await readSegments(store, flowRunId, summary.nextSegment);
  let current = summary;
  for (const segment of segments) current = fold(current, segment.outcomes, segment.returned).next;
  return { ...current, nextSegment: next };
}

/**
 * Writes the summary; when another writer replaced it meanwhile, folds what the segments say
 * into theirs and tries again, so that the summary never stays short of a segment this writer
 * wrote (the flow run's final state may hinge on it). If it still cannot, the next append
 * repairs it: the segments are the truth.
 */
async function updateSummary(
  store: RecordStore,
  flowRunId: string,
  summary: RunSummary,
  etag: string | undefined,
): Promise<void> {
  let current = summary;
  let currentEtag = etag;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const bytes = encode(current);
    const saved =
      currentEtag === undefined
        ? await store.create(summaryKey(flowRunId), bytes)
        : await store.replace(summaryKey(flowRunId), bytes, currentEtag);
    if (saved) return;
    ({ summary: current, etag: currentEtag } = await loadSummary(store, flowRunId));
    const before = current.nextSegment;
    current = await catchUp(store, flowRunId, current);
    if (current.nextSegment === before && before >= summary.nextSegment) return; // it already says it all
  }
}

/**
 * The outcomes the record lacks (see `RecordedRuns`), and the summary once they and `returned`
 * are in; `summary` itself is left as it is.
 */
function fold(
  summary: RunSummary,
  outcomes: readonly Outcome[],
  returned: FlowReturned | undefined,
): { next: RunSummary; fresh: Outcome[] } {
  const runs = new RecordedRuns(summary);
  const counts = { ...summary.counts };
  const fresh = outcomes.filter((outcome) => {
    const taken = runs.take(outcome);
    const status = outcome.status as keyof RunSummary["counts"];
    if (taken === "final") counts[status] = (counts[status] ?? 0) + 1;
    return taken !== undefined;
  });
  const { terminal, attempts } = runs.toJSON();
  const next: RunSummary = { ...summary, counts, terminal, returned: summary.returned ?? returned };
  if (attempts) next.attempts = attempts;
  const notice = next.returned;
  const final = counts.completed + counts.failed + counts.crashed + counts.cancelled;
  if (notice && next.state === undefined && final >= notice.tasks) next.state = notice.state;
  return { next, fresh };
}

function encode(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

function decode(bytes: Uint8Array): unknown {
  return JSON.parse(decoder.decode(bytes));
}
