import { format } from "node:util";
import { type LogRecord, setRecordSink } from "../../logging/config.js";
import { captureConsole, streamOf } from "../../logging/console-capture.js";
import type { Outcome } from "../wire/messages.js";

export type LogEntry = Outcome["logs"][number];

/**
 * The console output and log lines of the task runs under way, each run's kept apart for its
 * outcome; output of no run under way goes to the process's own streams.
 */
export class RunLogs {
  readonly #buffers = new Map<string, LogEntry[]>();

  constructor() {
    captureConsole((method, args, scope) => {
      const stream = streamOf(method);
      const text = format(...args);
      const buffer = scope?.taskRun ? this.#buffers.get(scope.taskRun.id) : undefined;
      if (buffer) buffer.push({ stream, text });
      else (stream === "stdout" ? process.stdout : process.stderr).write(`${text}\n`);
    });
    setRecordSink((record: LogRecord) => {
      const buffer = record.taskRunId ? this.#buffers.get(record.taskRunId) : undefined;
      if (buffer) buffer.push(record);
      else process.stderr.write(`${JSON.stringify(record)}\n`);
    });
  }

  /** Starts keeping a run's lines; the array fills as it runs. */
  open(taskRunId: string): LogEntry[] {
    const entries: LogEntry[] = [];
    this.#buffers.set(taskRunId, entries);
    return entries;
  }

  close(taskRunId: string): void {
    this.#buffers.delete(taskRunId);
  }
}
