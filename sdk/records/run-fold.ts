import type { RunEvent } from "../observe.js";
import type { StateName } from "../states.js";
import {
  countOf,
  emptyCounts,
  isFinalState,
  type LogLine,
  type MetaLine,
  type PrintLine,
  type RecordLine,
  type RunCounts,
} from "./record.js";

export type ErrorSummary = NonNullable<RunEvent["error"]>;

/** A flow run of the record, as `squall runs` lists it. */
export interface RunSummary {
  readonly id: string;
  /** The flow run's name (`witty-otter`). */
  readonly name: string;
  readonly flowName: string;
  /** Its latest state; `Pending` before its first. */
  readonly state: StateName;
  /** Milliseconds since the epoch. */
  readonly startedAt: number;
  /** Set once it is final. */
  readonly endedAt?: number;
  /** Its task runs, and its subflows' task runs, by kind of state. */
  readonly counts: RunCounts;
  readonly error?: ErrorSummary;
}

/** A subflow run of a flow run. */
export interface SubflowRun {
  readonly id: string;
  readonly name: string;
  readonly flowName: string;
  readonly parentFlowRunId: string;
  readonly state: StateName;
  readonly startedAt?: number;
  readonly endedAt?: number;
  readonly error?: ErrorSummary;
}

/** A task run of the record. */
export interface TaskRunRecord {
  readonly id: string;
  /** The task run's name (`sayHello-0`). */
  readonly name: string;
  /** The task's name. */
  readonly task: string;
  /** Its flow run: the run itself or one of its subflows. */
  readonly flowRunId: string;
  readonly state: StateName;
  readonly attempts: number;
  /** When it first ran; for a run that ran elsewhere, when its last attempt started there. */
  readonly startedAt?: number;
  /** When it reached its final state; for a run that ran elsewhere, when its last attempt ended there. */
  readonly endedAt?: number;
  /** Where it ran: `in process`, a thread, a Lambda execution environment (its log stream). */
  readonly worker?: string;
  readonly error?: ErrorSummary;
}

/** Log lines and console output, in the order written. */
export type OutputLine = LogLine | PrintLine;

/** Everything the record holds of a flow run, as `squall show` and `squall logs` print it. */
export interface RunDetail {
  readonly flowRun: RunSummary;
  /** How `squall run` started it, when it did. */
  readonly meta?: MetaLine;
  readonly subflows: SubflowRun[];
  /** In the order they were created. */
  readonly tasks: TaskRunRecord[];
  readonly logs: OutputLine[];
}

interface MutableRun {
  id: string;
  name: string;
  flowName: string;
  parentFlowRunId: string | undefined;
  state: StateName;
  startedAt: number | undefined;
  endedAt: number | undefined;
  error: ErrorSummary | undefined;
}

interface MutableTask {
  id: string;
  name: string;
  task: string;
  flowRunId: string;
  state: StateName;
  attempts: number;
  startedAt: number | undefined;
  endedAt: number | undefined;
  worker: string | undefined;
  error: ErrorSummary | undefined;
}

/**
 * Builds the view of one flow run from its record lines, fed in the order written (all at
 * once, or as a follower reads them). Keeps log lines only when asked to.
 */
export class RunFold {
  readonly id: string;
  readonly #keepLogs: boolean;
  #meta: MetaLine | undefined;
  readonly #top: MutableRun;
  readonly #subflows = new Map<string, MutableRun>();
  readonly #tasks = new Map<string, MutableTask>();
  readonly #counts = emptyCounts();
  readonly #logs: OutputLine[] = [];
  #firstTime: number | undefined;

  constructor(id: string, options: { readonly keepLogs?: boolean } = {}) {
    this.id = id;
    this.#keepLogs = options.keepLogs ?? false;
    this.#top = {
      id,
      name: "",
      flowName: "",
      parentFlowRunId: undefined,
      state: "Pending",
      startedAt: undefined,
      endedAt: undefined,
      error: undefined,
    };
  }

  /** Whether the flow run has reached a final state. */
  get final(): boolean {
    return isFinalState(this.#top.state);
  }

  add(line: RecordLine): void {
    if ("time" in line && this.#firstTime === undefined) this.#firstTime = line.time;
    switch (line.kind) {
      case "meta":
        this.#meta = line;
        if (!this.#top.flowName) this.#top.flowName = line.flowName;
        return;
      case "flow":
        this.#onFlow(line);
        return;
      case "task":
        this.#onTask(line);
        return;
      case "log":
      case "print":
        if (this.#keepLogs) this.#logs.push(line);
        return;
    }
  }

  summary(): RunSummary {
    const top = this.#top;
    return {
      id: top.id,
      name: top.name,
      flowName: top.flowName,
      state: top.state,
      startedAt: top.startedAt ?? this.#meta?.startedAt ?? this.#firstTime ?? 0,
      ...(top.endedAt !== undefined && { endedAt: top.endedAt }),
      counts: { ...this.#counts },
      ...(top.error && { error: top.error }),
    };
  }

  detail(): RunDetail {
    return {
      flowRun: this.summary(),
      ...(this.#meta && { meta: this.#meta }),
      subflows: [...this.#subflows.values()].map((run) => ({
        id: run.id,
        name: run.name,
        flowName: run.flowName,
        parentFlowRunId: run.parentFlowRunId as string,
        state: run.state,
        ...defined({ startedAt: run.startedAt, endedAt: run.endedAt, error: run.error }),
      })),
      tasks: [...this.#tasks.values()].map((task) => ({
        id: task.id,
        name: task.name,
        task: task.task,
        flowRunId: task.flowRunId,
        state: task.state,
        attempts: task.attempts,
        ...defined({
          startedAt: task.startedAt,
          endedAt: task.endedAt,
          worker: task.worker,
          error: task.error,
        }),
      })),
      logs: [...this.#logs],
    };
  }

  #onFlow(event: RunEvent): void {
    let run: MutableRun | undefined;
    if (event.id === this.id) run = this.#top;
    else {
      run = this.#subflows.get(event.id);
      if (!run) {
        run = {
          id: event.id,
          name: event.name,
          flowName: event.definition,
          parentFlowRunId: event.flowRunId,
          state: event.state,
          startedAt: undefined,
          endedAt: undefined,
          error: undefined,
        };
        this.#subflows.set(event.id, run);
      }
    }
    run.name = event.name;
    run.flowName = event.definition;
    applyState(run, event);
  }

  #onTask(event: RunEvent): void {
    let task = this.#tasks.get(event.id);
    if (task) this.#counts[countOf(task.state)] -= 1;
    else {
      task = {
        id: event.id,
        name: event.name,
        task: event.definition,
        flowRunId: event.flowRunId as string,
        state: event.state,
        attempts: 0,
        startedAt: undefined,
        endedAt: undefined,
        worker: undefined,
        error: undefined,
      };
      this.#tasks.set(event.id, task);
    }
    applyState(task, event);
    task.attempts = event.attempts ?? task.attempts;
    task.worker = event.worker ?? task.worker;
    // A run that ran elsewhere: its worker's times say how long it ran, not how long it queued.
    if (event.startedAt !== undefined) task.startedAt = event.startedAt;
    if (event.endedAt !== undefined) task.endedAt = event.endedAt;
    this.#counts[countOf(task.state)] += 1;
  }
}

function applyState(run: MutableRun | MutableTask, event: RunEvent): void {
  run.state = event.state;
  if ((event.state === "Running" || event.state === "Retrying") && run.startedAt === undefined) {
    run.startedAt = event.time;
  }
  if (isFinalState(event.state)) {
    run.endedAt = event.time;
    run.error = event.error; // a run that retried and then completed ends without one
  } else if (event.error) run.error = event.error;
}

/** The fields whose value is not `undefined`. */
function defined<T extends object>(fields: T): Partial<T> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as Partial<T>;
}
