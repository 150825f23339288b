import type { Reporter } from "./reporter.js";
import type { Tally } from "./tally.js";
import { rawWriter } from "./write-tap.js";

/**
 * Progress as plain lines on stderr, for CI logs and pipes: a line when the run starts, then
 * every `everyMs` while something changed, `squall: 3 pending, 2 running, 10 completed, 0 failed
 * · 4.20 s · 2.4 task runs/s`.
 */
export class PlainLines implements Reporter {
  readonly #tally: Tally;
  readonly #everyMs: number;
  readonly #raw = rawWriter(process.stderr);
  #timer: NodeJS.Timeout | undefined;
  #printed = 0;

  constructor(tally: Tally, everyMs = 5_000) {
    this.#tally = tally;
    this.#everyMs = everyMs;
  }

  begin(run: { readonly id: string; readonly name: string; readonly flowName: string }): void {
    this.line(`squall: flow run '${run.name}' (${run.id}) of flow '${run.flowName}' started`);
    this.#timer = setInterval(() => {
      if (this.#tally.changes === this.#printed) return;
      this.#printed = this.#tally.changes;
      this.line(`squall: ${this.#tally.describe()}`);
    }, this.#everyMs);
    this.#timer.unref();
  }

  line(text: string): void {
    this.#raw(`${text}\n`);
  }

  end(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
