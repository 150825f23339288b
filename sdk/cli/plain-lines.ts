import type { Reporter } from "./reporter.js";
import type { Tally } from "./tally.js";
import { barsLine, showsBars } from "./task-names.js";
import { rawWriter } from "./write-tap.js";

/**
 * Progress as plain lines on stderr, for CI logs and pipes: a line when the run starts, then
 * every `everyMs` while something changed, `squall: 3 pending, 2 running, 10 completed, 0 failed
 * · 4.20 s · 2.4 task runs/s`, and in a large run (as the live display shows bars) a second line
 * of runs done by task name, `squall: by task: sayHello 100/200, sayGoodbye 17/200 (2 failed)`.
 */
export class PlainLines implements Reporter {
  readonly #tally: Tally;
  readonly #everyMs: number;
  readonly #raw: (text: string) => void;
  #timer: NodeJS.Timeout | undefined;
  #printed = 0;

  constructor(tally: Tally, everyMs = 5_000, stream: NodeJS.WriteStream = process.stderr) {
    this.#tally = tally;
    this.#everyMs = everyMs;
    this.#raw = rawWriter(stream);
  }

  begin(run: { readonly id: string; readonly name: string; readonly flowName: string }): void {
    this.line(`squall: flow run '${run.name}' (${run.id}) of flow '${run.flowName}' started`);
    this.#timer = setInterval(() => this.tick(), this.#everyMs);
    this.#timer.unref();
  }

  /** Prints the progress lines if anything changed since the last ones. */
  tick(now = Date.now()): void {
    if (this.#tally.changes === this.#printed) return;
    this.#printed = this.#tally.changes;
    this.line(`squall: ${this.#tally.describe(now)}`);
    if (showsBars(this.#tally)) this.line(`squall: ${barsLine(this.#tally)}`);
  }

  line(text: string): void {
    this.#raw(`${text}\n`);
  }

  end(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
