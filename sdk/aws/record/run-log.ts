import { SquallError } from "../../errors.js";
import { runPrefix } from "../../storage/keys.js";
import type { Versioned } from "../s3-store.js";
import { type FlowReturned, type Outcome, WIRE_VERSION } from "../wire/messages.js";
import { TerminalIds, type TerminalIdsJson } from "./terminal-ids.js";

/**
 * The record of a flow run in the bucket: append-only segments of outcomes, and a summary
 * that caches what the segments say. Segments are the truth: each is created at the next
 * number with a conditional create, so racing writers cannot both take a number, and a writer
 * that died between its segment and the summary leaves nothing the next writer cannot repair.
 * An outcome for a task run already final is dropped, so a redelivered outcome counts once.
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

const FINAL = new Set(["completed", "failed", "crashed", "cancelled"]);
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

/** As `appendOutcomes`, also telling the summary it left and whether the run became final with it. */
export async function appendToRecord(
  store: RecordStore,
  flowRunId: string,
  outcomes: readonly Outcome[],
  returned?: FlowReturned,
): Promise<{ recorded: number; summary: RunSummary; becameFinal: boolean }> {
  let { summary, etag } = await loadSummary(store, flowRunId);
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const terminal = TerminalIds.fromJSON(summary.terminal);
    const fresh = newOutcomes(outcomes, terminal);
    const notice = summary.returned ? undefined : returned;
    if (fresh.length === 0 && !notice) return { recorded: 0, summary, becameFinal: false };
    const segment: Segment = notice
      ? { v: WIRE_VERSION, outcomes: fresh, returned: notice }
      : { v: WIRE_VERSION, outcomes: fresh };
    if (await store.create(segmentKey(flowRunId, summary.nextSegment), encode(segment))) {
      const wasFinal = summary.state !== undefined;
      fold(summary, terminal, segment);
      summary.nextSegment += 1;
      await updateSummary(store, flowRunId, summary, etag);
      return { recorded: fresh.length, summary, becameFinal: !wasFinal && summary.state !== undefined };
    }
    // Another writer took that number (or died before updating the summary): fold what it wrote.
    ({ summary, etag } = await loadSummary(store, flowRunId));
    await catchUp(store, flowRunId, summary);
  }
  throw new SquallError(`Could not append to the record of flow run ${flowRunId} after ${MAX_ROUNDS} tries.`);
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
  if (!found || found === "unchanged") {
    return {
      summary: {
        v: WIRE_VERSION,
        nextSegment: 0,
        counts: { completed: 0, failed: 0, crashed: 0, cancelled: 0 },
        terminal: { ranges: {}, others: [] },
      },
    };
  }
  return { summary: decode(found.bytes) as RunSummary, etag: found.etag };
}

/** Folds into `summary` every segment written past what it knows. */
async function catchUp(store: RecordStore, flowRunId: string, summary: RunSummary): Promise<void> {
  const { segments, next } = await readSegments(store, flowRunId, summary.nextSegment);
  const terminal = TerminalIds.fromJSON(summary.terminal);
  for (const segment of segments) {
    fold(summary, terminal, { ...segment, outcomes: newOutcomes(segment.outcomes, terminal) });
  }
  summary.nextSegment = next;
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
    await catchUp(store, flowRunId, current);
    if (current.nextSegment === before && before >= summary.nextSegment) return; // it already says it all
  }
}

/** The outcomes of task runs not yet final, the first final one per run only. */
function newOutcomes(outcomes: readonly Outcome[], terminal: TerminalIds): Outcome[] {
  const seen = new Set<string>();
  return outcomes.filter((outcome) => {
    if (terminal.has(outcome.taskRunId) || seen.has(outcome.taskRunId)) return false;
    if (FINAL.has(outcome.status)) seen.add(outcome.taskRunId);
    return true;
  });
}

function fold(summary: RunSummary, terminal: TerminalIds, segment: Segment): void {
  for (const outcome of segment.outcomes) {
    if (!FINAL.has(outcome.status)) continue;
    terminal.add(outcome.taskRunId);
    const status = outcome.status as keyof RunSummary["counts"];
    summary.counts[status] = (summary.counts[status] ?? 0) + 1;
  }
  summary.terminal = terminal.toJSON();
  summary.returned ??= segment.returned;
  const { counts, returned: notice } = summary;
  const final = counts.completed + counts.failed + counts.crashed + counts.cancelled;
  if (notice && summary.state === undefined && final >= notice.tasks) summary.state = notice.state;
}

function encode(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

function decode(bytes: Uint8Array): unknown {
  return JSON.parse(decoder.decode(bytes));
}
