import { join, resolve } from "node:path";
import type { LevelName } from "../logging/config.js";
import type { RunEvent } from "../observe.js";
import type { StateName } from "../states.js";

// The lines of a flow run's record, `<root>/runs/<flowRunId>/events.jsonl`: what the recorder
// (../cli/recorder.ts) writes, and what every run backend (backend.ts) hands over, a bucket's
// included. The format is described in full at the top of recorder.ts.

/** Written first by `squall run`: how the run was started. */
export interface MetaLine {
  readonly kind: "meta";
  readonly flowRunId: string;
  readonly flowName: string;
  /** The flows file as given on the command line. */
  readonly file: string;
  /** `sequential`, `concurrent`, `threads`, `lambda`, or `default` (the flow's own). */
  readonly runner: string;
  /** The flow's arguments. */
  readonly params: unknown;
  /** Milliseconds since the epoch. */
  readonly startedAt: number;
}

/** A flow run or task run entering a state, as `observeRuns` tells it. */
export type EventLine = RunEvent;

/** A run-logger line (or any squall log line) of the run. */
export interface LogLine {
  readonly kind: "log";
  readonly time: number;
  readonly level: LevelName;
  readonly message: string;
  /** The flow run that logged it (a subflow's own id for its lines). */
  readonly flowRunId?: string;
  readonly taskRunId?: string;
  readonly taskRunName?: string;
}

/** Console output of the run: what was written, less one trailing newline. */
export interface PrintLine {
  readonly kind: "print";
  readonly time: number;
  readonly stream: "stdout" | "stderr";
  readonly text: string;
  /** The task run that printed it, where known. */
  readonly taskRunId?: string;
}

export type RecordLine = MetaLine | EventLine | LogLine | PrintLine;

/** Task run counts by kind of state. */
export interface RunCounts {
  pending: number;
  running: number;
  completed: number;
  failed: number;
  crashed: number;
  cancelled: number;
}

export type CountKey = keyof RunCounts;

export function emptyCounts(): RunCounts {
  return { pending: 0, running: 0, completed: 0, failed: 0, crashed: 0, cancelled: 0 };
}

const COUNT_OF: Record<StateName, CountKey> = {
  Pending: "pending",
  AwaitingRetry: "pending",
  Running: "running",
  Retrying: "running",
  Completed: "completed",
  Cached: "completed",
  Failed: "failed",
  TimedOut: "failed",
  Crashed: "crashed",
  Cancelled: "cancelled",
};

/** Which count a state falls in: a run awaiting its retry is pending, a timed-out one failed. */
export function countOf(state: StateName): CountKey {
  return COUNT_OF[state] ?? "pending";
}

export function isFinalState(state: StateName): boolean {
  const key = countOf(state);
  return key !== "pending" && key !== "running";
}

/** `$SQUALL_HOME` when set, else `.squall` in the current directory. */
export function defaultRoot(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  return resolve(cwd, env.SQUALL_HOME || ".squall");
}

export function runsFolder(root: string): string {
  return join(root, "runs");
}

export function eventsFile(root: string, flowRunId: string): string {
  return join(root, "runs", flowRunId, "events.jsonl");
}

/** The record lines of `text`, skipping lines that are not JSON objects (a line cut short by a crash). */
export function parseLines(text: string): RecordLine[] {
  const lines: RecordLine[] = [];
  for (const raw of text.split("\n")) {
    const line = parseLine(raw);
    if (line) lines.push(line);
  }
  return lines;
}

export function parseLine(raw: string): RecordLine | undefined {
  if (raw.trim() === "") return undefined;
  try {
    const value = JSON.parse(raw) as RecordLine | null;
    return typeof value === "object" && value !== null && typeof value.kind === "string" ? value : undefined;
  } catch {
    return undefined;
  }
}
