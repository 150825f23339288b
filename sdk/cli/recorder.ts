/**
 * The local record of flow runs: what `squall run` writes, and `squall runs`, `show`, `logs`
 * and the dashboard read (through ../records/local-backend.ts).
 *
 * Where: `<root>` is `$SQUALL_HOME` when set, else `.squall/` in the current directory. Each
 * top-level flow run has one file, `<root>/runs/<flowRunId>/events.jsonl`, appended line by line
 * as things happen, so that a reader follows a live run by reading on from where it stopped.
 * Lines reach the file within about 25 ms; a last line without its newline is still being
 * written. A subflow's lines go into its top-level flow run's file.
 *
 * Each line is one JSON object, told apart by `kind` (times are milliseconds since the epoch):
 *
 * - `{"kind":"meta","flowRunId","flowName","file","runner","params","startedAt"}`: optional,
 *   the first line when `squall run` started the run (`runner` is the name of the task runner
 *   the run used: the one `--runner` named, else the flow's own, such as `sequential`, `threads`
 *   or `lambda`, else `concurrent`, the default; records written before this was so say
 *   `default` for the flow's own; `params` the flow's arguments).
 * - `{"kind":"flow","id","name","definition","flowRunId","state","time","error"?}`: a flow run
 *   entering a state (a `RunEvent` of `observeRuns`). `definition` is the flow's name;
 *   `flowRunId` is the parent flow run, absent for the top-level one.
 * - `{"kind":"task","id","name","definition","flowRunId","state","time","attempts","error"?,
 *   "worker"?,"startedAt"?,"endedAt"?}`: a task run entering a state; `definition` is the task's
 *   name, `flowRunId` its flow run (a subflow's id for a subflow's tasks). `error` is
 *   `{ name, message, stack? }`. `worker` says where it runs or ran: `in process` (from Running
 *   on), `thread <n>`, or a Lambda execution environment's log stream name (on the final line,
 *   with `startedAt` and `endedAt`: when its last attempt ran there, on the worker's clock).
 * - `{"kind":"log","time","level","message","flowRunId"?,"taskRunId"?,"taskRunName"?}`: a log
 *   line, as written to the terminal (levels at or above the configured one).
 * - `{"kind":"print","time","stream","text","taskRunId"?}`: console output made while the run
 *   was going, `stream` `stdout` or `stderr`, `text` what was written less one trailing newline.
 *   `taskRunId` is set for output made by a task run, in this process or replayed here by its
 *   runner (from a thread or a Lambda).
 *
 * States are squall's state names: Pending, AwaitingRetry, Running, Retrying, Completed, Cached,
 * Failed, TimedOut, Crashed, Cancelled. A file whose top-level flow run has no final state
 * belongs to a run still going, or to a process that died.
 */
import { closeSync, mkdirSync, openSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { currentScope } from "../context.js";
import { type LogRecord, setRecordSink, writeRecord } from "../logging/config.js";
import { observeRuns, type RunEvent } from "../observe.js";
import {
  defaultRoot,
  eventsFile,
  isFinalState,
  type LogLine,
  type MetaLine,
  type PrintLine,
  type RecordLine,
} from "../records/record.js";
import { rawWriter, tapWrites } from "./write-tap.js";

/** How `squall run` started the run it records: written as the meta line of that flow's run. */
export interface RecordingMeta {
  readonly flowName: string;
  readonly file: string;
  readonly runner: string;
  readonly params: unknown;
}

export interface RecordingOptions {
  /** @default `$SQUALL_HOME`, else `.squall` in the current directory */
  readonly root?: string;
  /** Written first into the record of the first top-level run of `meta.flowName`. */
  readonly meta?: RecordingMeta;
}

export interface Recording {
  readonly root: string;
  /** Stops recording and writes out what is still buffered. */
  stop(): Promise<void>;
}

/**
 * Records every flow run and task run of this process, their log lines and their console
 * output, under `root`, until stopped. Log lines and output still reach the terminal as before.
 * One recording at a time per process: it takes over the logging record sink.
 *
 * @example
 * const recording = startRecording({ root: ".squall" });
 * await myFlow();
 * await recording.stop();
 */
export function startRecording(options: RecordingOptions = {}): Recording {
  return new Recorder(options.root ?? defaultRoot(), options.meta);
}

interface RunFile {
  readonly path: string;
  fd: number | undefined;
  pending: string[];
  /** The top-level flow run is final: the file is closed after each write. */
  final: boolean;
  failed: boolean;
}

const FLUSH_MS = 25;

class Recorder implements Recording {
  readonly root: string;
  #meta: RecordingMeta | undefined;
  /** Flow run id to the id of its top-level flow run, whose file holds its lines. */
  readonly #topOf = new Map<string, string>();
  readonly #topOfTask = new Map<string, string>();
  /** Top-level flow runs going, latest last: output made outside any run goes to the latest. */
  readonly #going: string[] = [];
  /** The latest event of each of them, to end its record with should the process end first. */
  readonly #latest = new Map<string, RunEvent>();
  readonly #files = new Map<string, RunFile>();
  readonly #undo: (() => void)[] = [];
  readonly #warn = rawWriter(process.stderr);
  #writingLog = false;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  readonly #onExit = () => {
    this.#endGoing();
    this.#flush();
  };

  constructor(root: string, meta: RecordingMeta | undefined) {
    this.root = root;
    this.#meta = meta;
    this.#undo.push(observeRuns((event) => this.#onEvent(event)));
    setRecordSink((record) => this.#onLog(record));
    this.#undo.push(() => setRecordSink(undefined));
    this.#undo.push(tapWrites(process.stdout, (text) => this.#onPrint("stdout", text)));
    this.#undo.push(tapWrites(process.stderr, (text) => this.#onPrint("stderr", text)));
    process.on("exit", this.#onExit);
    this.#undo.push(() => process.off("exit", this.#onExit));
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const undo of this.#undo.reverse()) undo();
    clearTimeout(this.#timer);
    this.#flush();
    for (const file of this.#files.values()) this.#close(file);
  }

  #onEvent(event: RunEvent): void {
    let top: string;
    if (event.kind === "flow") {
      top = event.flowRunId === undefined ? event.id : this.#topFor(event.flowRunId);
      this.#topOf.set(event.id, top);
    } else {
      top = this.#topFor(event.flowRunId as string); // a task run always has its flow run
      this.#topOfTask.set(event.id, top);
    }
    const meta = this.#meta;
    if (
      meta &&
      event.kind === "flow" &&
      event.flowRunId === undefined &&
      event.definition === meta.flowName
    ) {
      this.#meta = undefined;
      const line: MetaLine = { kind: "meta", flowRunId: event.id, ...meta, startedAt: event.time };
      this.#append(top, line);
    }
    this.#append(top, event);
    if (event.kind === "flow" && event.flowRunId === undefined) this.#track(event);
  }

  /** Follows which top-level runs are going; the file of one that is final is closed after each write. */
  #track(event: RunEvent): void {
    const index = this.#going.indexOf(event.id);
    if (isFinalState(event.state)) {
      if (index >= 0) this.#going.splice(index, 1);
      this.#latest.delete(event.id);
      const file = this.#files.get(event.id);
      if (file) file.final = true;
    } else {
      if (index < 0) this.#going.push(event.id);
      this.#latest.set(event.id, event);
    }
  }

  /**
   * The process is ending with flow runs still going (killed, or `process.exit()`): their
   * records end Crashed, so that readers do not wait for them forever.
   */
  #endGoing(): void {
    for (const event of this.#latest.values()) {
      const crashed: RunEvent = {
        ...event,
        state: "Crashed",
        time: Date.now(),
        error: { name: "CrashedError", message: "The process running the flow run ended before it did." },
      };
      this.#append(event.id, crashed);
      const file = this.#files.get(event.id);
      if (file) file.final = true;
    }
    this.#latest.clear();
    this.#going.length = 0;
  }

  #onLog(record: LogRecord): void {
    const top = record.flowRunId
      ? this.#topFor(record.flowRunId)
      : ((record.taskRunId && this.#topOfTask.get(record.taskRunId)) ?? this.#going.at(-1));
    if (top) {
      const line: LogLine = {
        kind: "log",
        time: record.time,
        level: record.level,
        message: record.message,
        flowRunId: record.flowRunId,
        taskRunId: record.taskRunId,
        taskRunName: record.taskRunName,
      };
      this.#append(top, line);
    }
    // The line still goes where log lines go; its write is not console output of the run.
    this.#writingLog = true;
    try {
      writeRecord(record);
    } finally {
      this.#writingLog = false;
    }
  }

  #onPrint(stream: "stdout" | "stderr", text: string): void {
    if (this.#writingLog || text === "") return;
    const scope = currentScope();
    const top = scope ? this.#topFor(scope.flowRun.id) : this.#going.at(-1);
    if (!top) return;
    const line: PrintLine = {
      kind: "print",
      time: Date.now(),
      stream,
      text: text.endsWith("\n") ? text.slice(0, -1) : text,
      taskRunId: scope?.taskRun?.id,
    };
    this.#append(top, line);
  }

  #topFor(flowRunId: string): string {
    return this.#topOf.get(flowRunId) ?? flowRunId;
  }

  #append(top: string, line: RecordLine): void {
    let file = this.#files.get(top);
    if (!file) {
      file = { path: eventsFile(this.root, top), fd: undefined, pending: [], final: false, failed: false };
      this.#files.set(top, file);
    }
    if (file.failed) return;
    file.pending.push(JSON.stringify(line));
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#flush();
    }, FLUSH_MS).unref();
  }

  #flush(): void {
    for (const file of this.#files.values()) {
      if (file.pending.length > 0) this.#write(file);
      if (file.final) this.#close(file);
    }
  }

  #write(file: RunFile): void {
    const text = `${file.pending.join("\n")}\n`;
    file.pending = [];
    try {
      if (file.fd === undefined) {
        mkdirSync(dirname(file.path), { recursive: true });
        file.fd = openSync(file.path, "a");
      }
      writeSync(file.fd, text);
    } catch (error) {
      file.failed = true;
      this.#warn(`squall: could not record to ${file.path}: ${(error as Error).message}\n`);
    }
  }

  #close(file: RunFile): void {
    if (file.fd === undefined) return;
    try {
      closeSync(file.fd);
    } catch {}
    file.fd = undefined;
  }
}
