import type { RunEvent } from "../../observe.js";
import type { LogLine, PrintLine, RecordLine } from "../../records/record.js";
import { defaultSerializer } from "../../serialization/serializer.js";
import type { StateName } from "../../states.js";
import type { RunSummary as BucketSummary, Segment } from "../record/run-log.js";
import type { Outcome } from "../wire/messages.js";
import { inlineBytes } from "../wire/payload.js";

const STATE_OF: Record<Outcome["status"], StateName> = {
  completed: "Completed",
  failed: "Failed",
  crashed: "Crashed",
  cancelled: "Cancelled",
  retrying: "AwaitingRetry",
};

/**
 * Turns a deployed flow run's record in the bucket (its segments of task outcomes, and its
 * summary) into the lines of the local record, so that `squall show` and `squall logs` print
 * both alike. The bucket holds less: task runs are named by their log lines (else by id), the
 * task by the task run's name, and the flow run by its tasks' log lines; a run has no
 * Pending or Running state until an outcome says when it started.
 */
export class BucketRecordReader {
  readonly #flowRunId: string;
  readonly #taskRunNames = new Map<string, string>();
  readonly #started = new Set<string>();
  /** Task runs whose final outcome has been read. */
  readonly #final = new Set<string>();
  #flowRunName = "";
  #flowName = "";
  #began = false;
  #ended = false;

  constructor(flowRunId: string) {
    this.#flowRunId = flowRunId;
  }

  /** The flow run's name, once a log line has told it. */
  get flowRunName(): string {
    return this.#flowRunName;
  }

  /** The lines a segment adds, in order. */
  segment(segment: Segment): RecordLine[] {
    const lines: RecordLine[] = [];
    for (const outcome of segment.outcomes) this.#learnNames(outcome);
    if (segment.returned) this.#flowName = segment.returned.flowName;
    if (!this.#began && segment.outcomes.length > 0) {
      this.#began = true;
      const first = Math.min(...segment.outcomes.map((outcome) => outcome.startedAt ?? outcome.endedAt));
      lines.push(this.#flowEvent("Running", first));
    }
    for (const outcome of segment.outcomes) lines.push(...this.#outcomeLines(outcome));
    return lines;
  }

  /** The flow run's final state, once the summary has it. */
  end(summary: BucketSummary | undefined): RecordLine[] {
    const returned = summary?.returned;
    if (this.#ended || !summary?.state || !returned) return [];
    this.#ended = true;
    this.#flowName ||= returned.flowName;
    const lines: RecordLine[] = [];
    if (!this.#began) lines.push(this.#flowEvent("Running", returned.endedAt));
    // A Crashed run's message is why it crashed (the sweep's "the caller stopped at …").
    const name = summary.state === "Crashed" ? "CrashedError" : "Error";
    const error = returned.message ? { name, message: returned.message } : undefined;
    lines.push(this.#flowEvent(summary.state, returned.endedAt, error));
    return lines;
  }

  #learnNames(outcome: Outcome): void {
    for (const entry of outcome.logs) {
      if ("stream" in entry) continue;
      if (entry.taskRunName) this.#taskRunNames.set(outcome.taskRunId, entry.taskRunName);
      if (entry.flowRunName) this.#flowRunName ||= entry.flowRunName;
    }
  }

  #flowEvent(state: StateName, time: number, error?: RunEvent["error"]): RunEvent {
    return {
      kind: "flow",
      id: this.#flowRunId,
      name: this.#flowRunName,
      definition: this.#flowName,
      flowRunId: undefined,
      state,
      time,
      ...(error && { error }),
    };
  }

  #outcomeLines(outcome: Outcome): RecordLine[] {
    const id = outcome.taskRunId;
    const name = this.#taskRunNames.get(id) ?? id;
    const task = name === id ? "?" : name.replace(/-\d+$/, "");
    const event = (state: StateName, time: number, error?: RunEvent["error"]): RunEvent => ({
      kind: "task",
      id,
      name,
      definition: task,
      flowRunId: this.#flowRunId,
      state,
      time,
      attempts: outcome.attempt,
      ...(error && { error }),
      ...(outcome.worker !== undefined && { worker: outcome.worker }),
    });
    const lines: RecordLine[] = [];
    if (outcome.startedAt !== undefined && !this.#started.has(id)) {
      this.#started.add(id);
      lines.push(event("Running", outcome.startedAt));
    }
    for (const entry of outcome.logs) {
      if ("stream" in entry) {
        const print: PrintLine = {
          kind: "print",
          time: outcome.endedAt,
          stream: entry.stream,
          text: entry.text,
          taskRunId: id,
        };
        lines.push(print);
      } else {
        const log: LogLine = {
          kind: "log",
          time: entry.time,
          level: entry.level,
          message: entry.message,
          flowRunId: entry.flowRunId ?? this.#flowRunId,
          taskRunId: entry.taskRunId ?? id,
          taskRunName: entry.taskRunName ?? name,
        };
        lines.push(log);
      }
    }
    // An outcome after the run's final one is an earlier attempt's, come late: its lines only.
    if (this.#final.has(id)) return lines;
    if (outcome.status !== "retrying") this.#final.add(id);
    const failed = outcome.status === "failed" || outcome.status === "crashed";
    lines.push(event(STATE_OF[outcome.status], outcome.endedAt, failed ? errorOf(outcome) : undefined));
    return lines;
  }
}

/**
 * The error an outcome carries inline; a stored one (large) is only named. Of an error too large
 * for its outcome that is the shortened copy, which names the key the whole error is stored at
 * (`stored`): its message says so already, else the key is added.
 */
function errorOf(outcome: Outcome): RunEvent["error"] {
  const payload = outcome.payload;
  if (!payload) return { name: "Error", message: "(no error recorded)" };
  if ("key" in payload) return { name: "Error", message: `(the error is stored at ${payload.key})` };
  const whole = payload.stored?.key;
  const where = (message: string) =>
    whole === undefined || message.includes(whole)
      ? message
      : `${message} (cut short; the whole error is stored at ${whole})`;
  try {
    const error = defaultSerializer.deserialize(inlineBytes(payload) as Uint8Array) as Error;
    return { name: error.name, message: where(error.message), stack: error.stack };
  } catch (thrown) {
    return { name: "Error", message: where(`(the error could not be read: ${(thrown as Error).message})`) };
  }
}
