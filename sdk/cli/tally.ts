import type { RunEvent, RunProgress } from "../observe.js";
import { countOf, isFinalState } from "../records/record.js";
import type { StateName } from "../states.js";
import { type Colors, formatDuration } from "./format.js";

/**
 * What the display counts a task run as. `pending`: submitted, not sent (or not started, in
 * process); `sent`: on the Lambda runner's task queue, not known to have ended (the caller
 * cannot know when a sent run starts); `running`: running in this process or a thread;
 * `retrying`: an attempt failed and the retry waits (or runs, on Lambda, where the caller
 * cannot tell which); then the final states.
 */
export type LiveKey =
  | "pending"
  | "sent"
  | "running"
  | "retrying"
  | "completed"
  | "failed"
  | "crashed"
  | "cancelled";

export type LiveCounts = Record<LiveKey, number>;

const KEYS: readonly LiveKey[] = [
  "pending",
  "sent",
  "running",
  "retrying",
  "completed",
  "failed",
  "crashed",
  "cancelled",
];

export function emptyLiveCounts(): LiveCounts {
  return { pending: 0, sent: 0, running: 0, retrying: 0, completed: 0, failed: 0, crashed: 0, cancelled: 0 };
}

/** One task name's runs, for the progress bars and the final summary. */
export interface TaskNameTally {
  readonly name: string;
  readonly counts: LiveCounts;
  /** Runs so far, final or not. */
  total: number;
  /** Final runs. */
  done: number;
  /** When its first run entered a state, and its last run ended (milliseconds since the epoch). */
  firstAt: number;
  lastEndAt: number | undefined;
}

interface Tracked {
  state: StateName | undefined;
  phase: "queued" | "sent" | "retrying" | undefined;
  key: LiveKey | undefined;
  name: TaskNameTally | undefined;
}

/**
 * Task runs by what is known of them as a run goes, for the live display and the plain progress
 * lines: their states from run events, and what a runner that runs them elsewhere reports
 * (`RunProgress`: on the Lambda runner, what it sent and what the run's record says).
 */
export class Tally {
  readonly counts: LiveCounts = emptyLiveCounts();
  readonly startedAt: number;
  readonly #runs = new Map<string, Tracked>();
  readonly #names = new Map<string, TaskNameTally>();
  /** Whether a runner reported sending runs elsewhere: the display then counts `sent`. */
  #remote = false;
  #starting: string | undefined;
  #finished = 0;
  #changes = 0;

  constructor(startedAt = Date.now()) {
    this.startedAt = startedAt;
  }

  /** Changes so far: a reporter prints a progress line only when this moved. */
  get changes(): number {
    return this.#changes;
  }

  /** Task names in the order their first runs came. */
  get names(): readonly TaskNameTally[] {
    return [...this.#names.values()];
  }

  /** Task runs so far. */
  get total(): number {
    return this.#runs.size;
  }

  add(event: RunEvent): void {
    if (event.kind !== "task") return;
    const run = this.#track(event.id, event.definition, event.time);
    run.state = event.state;
    if (isFinalState(event.state) && run.name) run.name.lastEndAt = event.endedAt ?? event.time;
    this.#recount(run);
  }

  /** The environment the runner is starting, while it starts: `the local environment`. */
  get starting(): string | undefined {
    return this.#starting;
  }

  progress(progress: RunProgress): void {
    this.#remote = true;
    if (progress.kind === "environment") {
      this.#starting = progress.phase === "starting" ? progress.description : undefined;
      this.#changes += 1;
      return;
    }
    const run = this.#track(progress.id, undefined, undefined);
    run.phase = progress.phase;
    this.#recount(run);
  }

  /**
   * `3 pending, 2 running, 10 completed, 0 failed · 4.20 s · 2.4 task runs/s`; with `sent`
   * instead of `running` when the runs go elsewhere, and `retrying`, `crashed`, `cancelled`
   * when there are any; without the rate when `withRate` is false (a cancelled run's, which
   * says nothing of how fast runs go).
   */
  describe(now = Date.now(), colors?: Colors, withRate = true): string {
    const elapsed = Math.max(now - this.startedAt, 0);
    const counted = `${describeLiveCounts(this.counts, this.#remote ? "remote" : "in process", colors)} · ${formatDuration(elapsed)}`;
    if (!withRate) return counted;
    const rate = elapsed > 0 ? this.#finished / (elapsed / 1000) : 0;
    return `${counted} · ${formatRate(rate)} task runs/s`;
  }

  #track(id: string, definition: string | undefined, time: number | undefined): Tracked {
    let run = this.#runs.get(id);
    if (!run) {
      run = { state: undefined, phase: undefined, key: undefined, name: undefined };
      this.#runs.set(id, run);
    }
    if (!run.name && definition !== undefined) {
      let name = this.#names.get(definition);
      if (!name) {
        name = {
          name: definition,
          counts: emptyLiveCounts(),
          total: 0,
          done: 0,
          firstAt: time ?? Date.now(),
          lastEndAt: undefined,
        };
        this.#names.set(definition, name);
      }
      name.total += 1;
      // A run reported by its runner before its first event is counted under its name from now on.
      if (run.key) name.counts[run.key] += 1;
      run.name = name;
    }
    return run;
  }

  #recount(run: Tracked): void {
    if (run.state === undefined) return; // known by its name and state first
    const after = keyOf(run.state, run.phase);
    const before = run.key;
    if (before === after) return;
    if (before) {
      this.counts[before] -= 1;
      if (run.name) run.name.counts[before] -= 1;
    }
    this.counts[after] += 1;
    if (run.name) run.name.counts[after] += 1;
    run.key = after;
    if (isFinal(after) && !(before && isFinal(before))) {
      this.#finished += 1;
      if (run.name) run.name.done += 1;
    }
    this.#changes += 1;
  }
}

function keyOf(state: StateName, phase: Tracked["phase"]): LiveKey {
  if (state === "AwaitingRetry") return "retrying";
  const key = countOf(state);
  if (key !== "running") return key;
  switch (phase) {
    case "queued":
      return "pending";
    case "sent":
      return "sent";
    case "retrying":
      return "retrying";
    default:
      return "running";
  }
}

function isFinal(key: LiveKey): boolean {
  return key === "completed" || key === "failed" || key === "crashed" || key === "cancelled";
}

/**
 * The counts as the display says them: completed, failed and any other that is not 0, and, while
 * the runs go (`in process` or `remote`), pending and running, or sent when the runs go elsewhere.
 */
export function describeLiveCounts(
  counts: LiveCounts,
  how: "in process" | "remote" | "ended",
  colors?: Colors,
): string {
  const parts: string[] = [];
  for (const key of KEYS) {
    const shown =
      key === "completed" ||
      key === "failed" ||
      counts[key] > 0 ||
      (how !== "ended" && key === "pending") ||
      (how === "remote" && key === "sent") ||
      (how === "in process" && key === "running");
    if (shown) parts.push(paint(key, `${counts[key]} ${key}`, counts[key], colors));
  }
  return parts.join(", ");
}

function paint(key: LiveKey, text: string, count: number, colors: Colors | undefined): string {
  if (!colors || count === 0) return text;
  switch (key) {
    case "completed":
      return colors.green(text);
    case "failed":
    case "crashed":
      return colors.red(text);
    case "running":
    case "sent":
      return colors.cyan(text);
    case "retrying":
    case "cancelled":
      return colors.yellow(text);
    default:
      return text;
  }
}

export function formatRate(rate: number): string {
  return rate >= 100 ? String(Math.round(rate)) : rate.toFixed(1);
}
