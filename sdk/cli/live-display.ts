import { createLogUpdate } from "log-update";
import { type Colors, formatDuration } from "./format.js";
import type { Reporter } from "./reporter.js";
import type { Tally } from "./tally.js";
import { barLines, showsBars } from "./task-names.js";
import { rawWriter, tapWrites } from "./write-tap.js";

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const REPAINT_MS = 100;
/** Bars at most, however tall the terminal. */
const MAX_BARS = 20;

/** Where a display draws, and its clock: the process's stderr, stdout and time unless given (tests give fakes). */
export interface LiveDisplayOptions {
  /** The terminal the display draws on. @default process.stderr */
  readonly stream?: NodeJS.WriteStream;
  /** The other stream whose writes go above the display. @default process.stdout */
  readonly other?: NodeJS.WriteStream;
  /** @default Date.now */
  readonly now?: () => number;
}

/**
 * Lines at the bottom of the terminal (stderr), redrawn ten times a second: the flow run, and
 * its task runs pending, sent (on the Lambda runner) or running, retrying, completed and
 * failed, the time so far and the throughput; in a large run (more than a few task names, or
 * many runs), a progress bar per task name below, as many as the terminal has room for.
 * Anything else written to stdout or stderr (task output, log lines) is printed above it: the
 * display is cleared before the write and drawn again after.
 */
export class LiveDisplay implements Reporter {
  readonly #tally: Tally;
  readonly #colors: Colors;
  readonly #stream: NodeJS.WriteStream;
  readonly #other: NodeJS.WriteStream;
  readonly #now: () => number;
  readonly #raw: (text: string) => void;
  readonly #render: ReturnType<typeof createLogUpdate>;
  readonly #untap: (() => void)[] = [];
  #title = "";
  #shown = false;
  #queued = false;
  #frame = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(tally: Tally, colors: Colors, options: LiveDisplayOptions = {}) {
    this.#tally = tally;
    this.#colors = colors;
    const stream = options.stream ?? process.stderr;
    this.#stream = stream;
    this.#other = options.other ?? process.stdout;
    this.#now = options.now ?? Date.now;
    const raw = rawWriter(stream);
    this.#raw = raw;
    // log-update writes its frames straight to the terminal, past the taps below.
    const target = {
      isTTY: true,
      get columns() {
        return stream.columns || 80;
      },
      get rows() {
        return stream.rows || 24;
      },
      write: (text: string) => {
        raw(text);
        return true;
      },
    };
    this.#render = createLogUpdate(target as unknown as NodeJS.WritableStream, { showCursor: true });
  }

  /** Starts keeping the display below other output; call before the run starts. */
  start(): void {
    const before = () => {
      this.#clear();
      this.#queueRepaint();
    };
    this.#untap.push(tapWrites(this.#other, before), tapWrites(this.#stream, before));
  }

  begin(run: { readonly id: string; readonly name: string; readonly flowName: string }): void {
    this.#title = `${this.#colors.bold(run.flowName)} · ${run.name}`;
    this.#paint();
    this.#timer = setInterval(() => this.#paint(), REPAINT_MS);
    this.#timer.unref();
  }

  line(text: string): void {
    this.#clear();
    this.#raw(`${text}\n`);
    if (this.#timer) this.#paint();
  }

  end(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#clear();
    for (const untap of this.#untap.splice(0)) untap();
  }

  #clear(): void {
    if (!this.#shown) return;
    this.#render.clear();
    this.#shown = false;
  }

  #queueRepaint(): void {
    if (this.#queued || !this.#timer) return;
    this.#queued = true;
    setImmediate(() => {
      this.#queued = false;
      if (this.#timer) this.#paint();
    });
  }

  /** What the display shows now, without moving its spinner. */
  frame(): string {
    const spinner = this.#colors.cyan(FRAMES[this.#frame] as string);
    const now = this.#now();
    const starting = this.#tally.starting;
    const status = starting
      ? `starting ${starting}… · ${formatDuration(Math.max(now - this.#tally.startedAt, 0))}`
      : this.#tally.describe(now, this.#colors);
    const lines = [`${spinner} ${this.#title}`, `  ${status}`];
    if (showsBars(this.#tally)) {
      // The title and counts, the bars, and a line left for the cursor.
      const rows = Math.max((this.#stream.rows || 24) - 3, 1);
      lines.push(...barLines(this.#tally, Math.min(rows, MAX_BARS), this.#colors));
    }
    return lines.join("\n");
  }

  #paint(): void {
    this.#frame = (this.#frame + 1) % FRAMES.length;
    this.#render(this.frame());
    this.#shown = true;
  }
}
