import { format } from "node:util";
import { type LogRecord, setRecordSink } from "../../logging/config.js";
import { captureConsole, streamOf } from "../../logging/console-capture.js";
import type { Outcome } from "../wire/messages.js";

export type LogEntry = Outcome["logs"][number];

/**
 * The console output and log lines a run keeps in its outcome, at most: with a result inline
 * (up to 64 KiB) and its error, the outcome still fits an SQS message (256 KiB). Past it, lines
 * are dropped and one line at the end says how many.
 */
export const MAX_RUN_LOG_BYTES = 96 * 1024;

/** One run's lines, kept up to `MAX_RUN_LOG_BYTES`; the rest only counted. */
class RunLog {
  readonly entries: LogEntry[] = [];
  #bytes = 0;
  #droppedLines = 0;
  #droppedBytes = 0;

  push(entry: LogEntry): void {
    // As the outcome's JSON will carry it, escapes and a record's fields included.
    const bytes = Buffer.byteLength(JSON.stringify(entry)) + 1;
    if (this.#droppedLines === 0 && this.#bytes + bytes <= MAX_RUN_LOG_BYTES) {
      this.entries.push(entry);
      this.#bytes += bytes;
      return;
    }
    this.#droppedLines += 1;
    this.#droppedBytes += bytes;
  }

  /** Adds the line saying what was dropped, if anything was. */
  end(): void {
    if (this.#droppedLines === 0) return;
    this.entries.push({
      stream: "stderr",
      text: `[squall] ${this.#droppedLines} more line(s) of this run's output (about ${Math.ceil(this.#droppedBytes / 1024)} KiB) were dropped: an outcome keeps at most ${MAX_RUN_LOG_BYTES / 1024} KiB of a run's output and log lines. Write large output to a file or return it as the result.`,
    });
  }
}

/**
 * The console output and log lines of the task runs under way, each run's kept apart for its
 * outcome; output of no run under way goes to the process's own streams.
 */
export class RunLogs {
  readonly #logs = new Map<string, RunLog>();

  constructor() {
    captureConsole((method, args, scope) => {
      const stream = streamOf(method);
      const text = format(...args);
      const log = scope?.taskRun ? this.#logs.get(scope.taskRun.id) : undefined;
      if (log) log.push({ stream, text });
      else (stream === "stdout" ? process.stdout : process.stderr).write(`${text}\n`);
    });
    setRecordSink((record: LogRecord) => {
      const log = record.taskRunId ? this.#logs.get(record.taskRunId) : undefined;
      if (log) log.push(record);
      else process.stderr.write(`${JSON.stringify(record)}\n`);
    });
  }

  /** Starts keeping a run's lines; the array fills as it runs, and is complete once closed. */
  open(taskRunId: string): LogEntry[] {
    const log = new RunLog();
    this.#logs.set(taskRunId, log);
    return log.entries;
  }

  close(taskRunId: string): void {
    this.#logs.get(taskRunId)?.end();
    this.#logs.delete(taskRunId);
  }
}
