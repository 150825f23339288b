// The dashboard's model of one flow run: the record's lines folded into task runs, counts,
// failures and logs, and the timeline's lanes. Plain functions over plain objects, with no DOM,
// so the page and the tests share them. Types: model.d.ts.

/** States in the order the counts show them. */
export const STATES = [
  "Pending",
  "AwaitingRetry",
  "Running",
  "Retrying",
  "Completed",
  "Cached",
  "Failed",
  "TimedOut",
  "Crashed",
  "Cancelled",
];

const FINAL = new Set(["Completed", "Cached", "Failed", "TimedOut", "Crashed", "Cancelled"]);
const RUNNING = new Set(["Running", "Retrying"]);
const FAILURES = new Set(["Failed", "TimedOut", "Crashed", "Cancelled"]);

/** Whether a run in `state` is done. */
export function isFinal(state) {
  return FINAL.has(state);
}

/**
 * The kind of a state, as the CLI counts them (record.ts `countOf`): pending, running,
 * completed, failed, crashed or cancelled. Also the CSS class of its colour.
 */
export function kindOf(state) {
  if (state === "Completed" || state === "Cached") return "completed";
  if (state === "Failed" || state === "TimedOut") return "failed";
  if (state === "Crashed") return "crashed";
  if (state === "Cancelled") return "cancelled";
  if (RUNNING.has(state)) return "running";
  return "pending";
}

/**
 * How many of a completed flow run's task runs failed or crashed: failures the flow handled (it
 * completed all the same). 0 for a run in any other state. `counts`: task runs by kind.
 */
export function handledFailures(state, counts) {
  if (state !== "Completed" || !counts) return 0;
  return (counts.failed ?? 0) + (counts.crashed ?? 0);
}

/** An empty model of flow run `id`, to fold its lines into with `applyLine`. */
export function createRun(id) {
  return { id, meta: undefined, flowRuns: new Map(), taskRuns: new Map(), logs: [], lastTime: 0 };
}

/** Folds one line of the record into `run`. Lines of unknown kinds are ignored. */
export function applyLine(run, line) {
  if (typeof line.time === "number") run.lastTime = Math.max(run.lastTime, line.time);
  switch (line.kind) {
    case "meta":
      run.meta = line;
      break;
    case "flow":
      applyState(run.flowRuns, line);
      break;
    case "task":
      applyState(run.taskRuns, line);
      break;
    case "log":
      run.logs.push({
        time: line.time,
        level: line.level,
        message: line.message,
        flowRunId: line.flowRunId,
        taskRunId: line.taskRunId,
        taskRunName: line.taskRunName,
      });
      break;
    case "print":
      run.logs.push({
        time: line.time,
        level: line.stream === "stderr" ? "STDERR" : "STDOUT",
        message: line.text,
        flowRunId: undefined,
        taskRunId: line.taskRunId,
        taskRunName: undefined,
      });
      break;
  }
}

/** A run's span: from its first Running (else its first state) to its final state. */
function applyState(runs, event) {
  let run = runs.get(event.id);
  if (!run) {
    run = {
      id: event.id,
      name: event.name,
      definition: event.definition,
      parent: event.flowRunId,
      state: event.state,
      firstSeen: event.time,
      start: undefined,
      end: undefined,
      attempts: event.attempts,
      error: undefined,
      worker: undefined,
    };
    runs.set(event.id, run);
  }
  run.state = event.state;
  // A run read from a bucket learns its names as it goes (the flow's comes with its end).
  if (event.name) run.name = event.name;
  if (event.definition) run.definition = event.definition;
  if (event.attempts !== undefined) run.attempts = event.attempts;
  if (event.error) run.error = event.error;
  if (event.worker !== undefined) run.worker = event.worker;
  if (RUNNING.has(event.state)) run.start ??= event.time;
  if (FINAL.has(event.state)) run.end = event.time;
  // A run that ran elsewhere: its worker's times say when it ran, not when it queued here.
  if (typeof event.startedAt === "number") run.start = event.startedAt;
  if (typeof event.endedAt === "number") run.end = event.endedAt;
}

/** The flow run the record is about: the one named `run.id`, else its first top-level one. */
export function ownFlowRun(run) {
  const named = run.flowRuns.get(run.id);
  if (named) return named;
  for (const flowRun of run.flowRuns.values()) if (flowRun.parent === undefined) return flowRun;
  return undefined;
}

/** Task runs by their current state. */
export function countByState(run) {
  const counts = {};
  for (const taskRun of run.taskRuns.values()) counts[taskRun.state] = (counts[taskRun.state] ?? 0) + 1;
  return counts;
}

/** Task runs by the kind of their current state, as the run list (and `squall runs`) counts them. */
export function countByKind(run) {
  const counts = { pending: 0, running: 0, completed: 0, failed: 0, crashed: 0, cancelled: 0 };
  for (const taskRun of run.taskRuns.values()) counts[kindOf(taskRun.state)] += 1;
  return counts;
}

/** Runs that failed, timed out, crashed or were cancelled, with their errors; flow runs first. */
export function failures(run) {
  const failed = [];
  for (const flowRun of run.flowRuns.values()) {
    if (FAILURES.has(flowRun.state)) failed.push({ kind: "flow", ...flowRun });
  }
  for (const taskRun of run.taskRuns.values()) {
    if (FAILURES.has(taskRun.state)) failed.push({ kind: "task", ...taskRun });
  }
  return failed;
}

/** Who a log line is about: its task run's name, else its flow run's (a subflow's, maybe). */
export function attribution(run, log) {
  if (log.taskRunName) return log.taskRunName;
  if (log.taskRunId) return run.taskRuns.get(log.taskRunId)?.name ?? log.taskRunId;
  const flowRun = (log.flowRunId && run.flowRuns.get(log.flowRunId)) || ownFlowRun(run);
  return flowRun?.name || "flow";
}

/**
 * The timeline: each task run's bar (`start` to `end`, or to `now` while it runs) and its lane,
 * and the time the axis spans: from the first task run's start to the last one's end.
 *
 * Lanes are grouped by the worker that ran the task runs (`worker` on their events: `in process`,
 * a thread, a Lambda execution environment); workers in the order they started work. A worker
 * may run several task runs at once (a Lambda worker runs a batch concurrently; the concurrent
 * runner, all of a flow's), so within its group bars are placed greedily: sorted by start, each
 * goes to the first of the worker's lanes that is free by then. Runs that overlap in time never
 * share a lane, and a worker has as many lanes as it ever ran runs at once, up to
 * `MAX_LANES_PER_WORKER`: past that (thousands of runs at once in one process), a run goes to the
 * lane that frees first, over the bar there. Records that name no workers (written before they
 * did) get one group of such lanes.
 */
export function timeline(run, now) {
  const bars = [];
  for (const taskRun of run.taskRuns.values()) {
    const start = taskRun.start ?? taskRun.firstSeen;
    const end = taskRun.end ?? Math.max(now, start);
    bars.push({ taskRun, start, end: Math.max(end, start), lane: 0, live: taskRun.end === undefined });
  }
  bars.sort((a, b) => a.start - b.start || a.end - b.end || (a.taskRun.id < b.taskRun.id ? -1 : 1));
  const lanes = assignLanes(bars);
  if (bars.length === 0) {
    const flowRun = ownFlowRun(run);
    return { bars, lanes, from: flowRun?.firstSeen ?? now, to: flowRun?.end ?? now };
  }
  // The axis spans the task runs, from the first one's start: the time a flow spends before
  // its first task (an environment starting) would squeeze them to one side.
  // A loop, not Math.min(...spread): a run may have more task runs than a call takes arguments.
  let from = Number.POSITIVE_INFINITY;
  let to = Number.NEGATIVE_INFINITY;
  for (const bar of bars) {
    from = Math.min(from, bar.start);
    to = Math.max(to, bar.end);
  }
  return { bars, lanes, from, to };
}

/** Gives bars (sorted by start) their lanes in place; returns the lanes, grouped by worker. */
function assignLanes(bars) {
  const named = bars.some((bar) => bar.taskRun.worker !== undefined);
  /** Per worker, in order of its first bar: the end of each of its lanes, and its bars' local lanes. */
  const groups = new Map();
  for (const bar of bars) {
    const worker = bar.taskRun.worker;
    let group = groups.get(worker);
    if (!group) {
      group = { worker, laneEnds: [], bars: [] };
      groups.set(worker, group);
    }
    const lane = laneFor(group.laneEnds, bar.start);
    group.laneEnds[lane] = Math.max(group.laneEnds[lane], bar.end);
    group.bars.push([bar, lane]);
  }
  const lanes = [];
  for (const group of groups.values()) {
    const offset = lanes.length;
    for (const [bar, lane] of group.bars) bar.lane = offset + lane;
    const label = named ? workerLabel(group.worker) : undefined;
    group.laneEnds.forEach((_, i) => {
      lanes.push({
        label: label === undefined ? `lane ${offset + i + 1}` : i === 0 ? label : "",
        title: named ? String(group.worker ?? "no worker reported") : "",
        first: i === 0,
        index: i,
      });
    });
  }
  return lanes;
}

/** How many lanes one worker gets at most. */
export const MAX_LANES_PER_WORKER = 32;

/** The first lane free at `start`; else a new one, or once there are enough, the one that frees first. */
function laneFor(laneEnds, start) {
  let earliest = 0;
  for (let i = 0; i < laneEnds.length; i++) {
    if (laneEnds[i] <= start) return i;
    if (laneEnds[i] < laneEnds[earliest]) earliest = i;
  }
  if (laneEnds.length < MAX_LANES_PER_WORKER) return laneEnds.push(0) - 1;
  return earliest;
}

/**
 * A worker's name, short enough for a lane label: a Lambda log stream name
 * (`2026/11/27/[$LATEST]` and 32 hex digits) becomes `λ` and its first 8 digits.
 */
export function workerLabel(worker) {
  if (worker === undefined) return "no worker reported";
  const text = String(worker);
  const stream = /^\d{4}\/\d{2}\/\d{2}\/\[[^\]]*\]([0-9a-f]{8})[0-9a-f]*$/.exec(text);
  return stream ? `λ ${stream[1]}` : text;
}

/** A run's task runs in the order they started (then by id): the task-run table's rows. */
export function taskRunRows(run) {
  const rows = [...run.taskRuns.values()];
  const start = (taskRun) => taskRun.start ?? taskRun.firstSeen;
  rows.sort((a, b) => start(a) - start(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return rows;
}

/**
 * The rows that pass the table's filters: `definition` (the task's name), `state`, `worker` (each
 * exact, or "" for any), and `search`, words that must each be in the run's name, task, state,
 * worker, id or error (case ignored).
 */
export function filterTaskRuns(rows, { definition = "", state = "", worker = "", search = "" } = {}) {
  const words = search.toLowerCase().split(/\s+/).filter(Boolean);
  return rows.filter((row) => {
    if (definition && row.definition !== definition) return false;
    if (state && row.state !== state) return false;
    if (worker && String(row.worker ?? "") !== worker) return false;
    if (words.length === 0) return true;
    const text = [
      row.name,
      row.definition,
      row.state,
      row.worker,
      row.id,
      row.error ? `${row.error.name}: ${row.error.message}` : "",
    ]
      .join(" ")
      .toLowerCase();
    return words.every((word) => text.includes(word));
  });
}

/**
 * Per task (a task's runs share its name, `definition`), its runs by kind of state, in the order
 * the tasks first ran: the progress bars. `done` counts the runs in a final state.
 */
export function progressByTask(run) {
  const byTask = new Map();
  for (const taskRun of run.taskRuns.values()) {
    const name = taskRun.definition ?? taskRun.name;
    let entry = byTask.get(name);
    if (!entry) {
      entry = {
        name,
        total: 0,
        done: 0,
        counts: { pending: 0, running: 0, completed: 0, failed: 0, crashed: 0, cancelled: 0 },
      };
      byTask.set(name, entry);
    }
    entry.total += 1;
    entry.counts[kindOf(taskRun.state)] += 1;
    if (FINAL.has(taskRun.state)) entry.done += 1;
  }
  return [...byTask.values()];
}
