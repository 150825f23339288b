// Types of model.js, for the tests that import it (the page itself has no build step).

export interface ErrorSummary {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
}

/** A record line as the page receives it; fields it does not use are left out. */
export interface Line {
  readonly kind: string;
  readonly time?: number;
  readonly id?: string;
  readonly name?: string;
  readonly definition?: string;
  readonly flowRunId?: string;
  readonly state?: string;
  readonly attempts?: number;
  readonly error?: ErrorSummary;
  readonly worker?: string | number;
  readonly startedAt?: number;
  readonly endedAt?: number;
  readonly level?: string;
  readonly message?: string;
  readonly stream?: "stdout" | "stderr";
  readonly text?: string;
  readonly taskRunId?: string;
  readonly taskRunName?: string;
}

export interface RunSpan {
  readonly id: string;
  name: string;
  definition: string;
  readonly parent: string | undefined;
  state: string;
  readonly firstSeen: number;
  start: number | undefined;
  end: number | undefined;
  attempts: number | undefined;
  error: ErrorSummary | undefined;
  worker: string | number | undefined;
}

export interface LogEntry {
  readonly time: number;
  readonly level: string;
  readonly message: string;
  readonly flowRunId: string | undefined;
  readonly taskRunId: string | undefined;
  readonly taskRunName: string | undefined;
}

export interface RunModel {
  readonly id: string;
  meta: Line | undefined;
  readonly flowRuns: Map<string, RunSpan>;
  readonly taskRuns: Map<string, RunSpan>;
  readonly logs: LogEntry[];
  lastTime: number;
}

export interface Bar {
  readonly taskRun: RunSpan;
  readonly start: number;
  readonly end: number;
  lane: number;
  readonly live: boolean;
}

/** A row of the timeline: the first of a worker's rows carries its label. */
export interface Lane {
  readonly label: string;
  /** The worker's full name, for a tooltip; empty when the record names no workers. */
  readonly title: string;
  /** Whether this is the first of its worker's rows. */
  readonly first: boolean;
  /** Which of its worker's rows it is, from 0. */
  readonly index: number;
}

export interface Timeline {
  readonly bars: Bar[];
  readonly lanes: Lane[];
  readonly from: number;
  readonly to: number;
}

export declare const STATES: readonly string[];
export declare function isFinal(state: string): boolean;
export type Kind = "pending" | "running" | "completed" | "failed" | "crashed" | "cancelled";
export declare function kindOf(state: string): Kind;
export declare function handledFailures(
  state: string | undefined,
  counts: Partial<Record<Kind, number>> | undefined,
): number;
export declare function createRun(id: string): RunModel;
export declare function applyLine(run: RunModel, line: Line): void;
export declare function ownFlowRun(run: RunModel): RunSpan | undefined;
export declare function countByState(run: RunModel): Record<string, number>;
export declare function countByKind(run: RunModel): Record<Kind, number>;
export declare function failures(run: RunModel): Array<RunSpan & { readonly kind: "flow" | "task" }>;
export declare function attribution(run: RunModel, log: LogEntry): string;
export declare function timeline(run: RunModel, now: number): Timeline;
export declare const MAX_LANES_PER_WORKER: number;
export declare function workerLabel(worker: string | number | undefined): string;

export interface TaskRunFilter {
  readonly definition?: string;
  readonly state?: string;
  readonly worker?: string;
  readonly search?: string;
}

export interface TaskProgress {
  readonly name: string;
  total: number;
  done: number;
  readonly counts: Record<Kind, number>;
}

export declare function taskRunRows(run: RunModel): RunSpan[];
export declare function filterTaskRuns(rows: readonly RunSpan[], filter?: TaskRunFilter): RunSpan[];
export declare function progressByTask(run: RunModel): TaskProgress[];
