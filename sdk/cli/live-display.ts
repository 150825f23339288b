import { createLogUpdate } from "log-update";
import type { Colors } from "./format.js";
import type { Reporter } from "./reporter.js";
import type { Tally } from "./tally.js";
import { rawWriter, tapWrites } from "./write-tap.js";

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const REPAINT_MS = 100;

/**
 * Two lines at the bottom of the terminal (stderr), redrawn ten times a second: the flow run,
 * and its task runs pending, running, completed and failed, the time so far and the
 * throughput. Anything else written to stdout or stderr (task output, log lines) is printed
 * above it: the display is cleared before the write and drawn again after.
 */
export class LiveDisplay implements Reporter {
  readonly #tally: Tally;
  readonly #colors: Colors;
  readonly #raw = rawWriter(process.stderr);
  readonly #render: ReturnType<typeof createLogUpdate>;
  readonly #untap: (() => void)[] = [];
  #title = "";
  #shown = false;
  #queued = false;
  #frame = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(tally: Tally, colors: Colors) {
    this.#tally = tally;
    this.#colors = colors;
    const stream = process.stderr;
    const raw = this.#raw;
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
    this.#untap.push(tapWrites(process.stdout, before), tapWrites(process.stderr, before));
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

  #paint(): void {
    this.#frame = (this.#frame + 1) % FRAMES.length;
    const spinner = this.#colors.cyan(FRAMES[this.#frame] as string);
    this.#render(`${spinner} ${this.#title}\n  ${this.#tally.describe(Date.now(), this.#colors)}`);
    this.#shown = true;
  }
}
