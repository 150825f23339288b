// One Lambda execution environment: a Node process of its own running the function's code
// through lambda-runtime.mjs, with the function's memory as its heap limit and the environment
// Lambda gives it. One invocation at a time; killed at the function's timeout (the next
// invocation gets a new environment, as Lambda's does); frozen between invocations (SIGSTOP), as
// Lambda freezes an idle environment, so nothing the function left running goes on meanwhile.
import { type ChildProcess, fork } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const RUNTIME = fileURLToPath(new URL("./lambda-runtime.mjs", import.meta.url));
/** Lambda gives the init phase (importing the handler module) 10 seconds. */
const INIT_TIMEOUT_MS = 10_000;

export interface LambdaError {
  readonly errorType: string;
  readonly errorMessage: string;
  readonly trace?: readonly string[];
}

export type InvokeOutcome =
  | { readonly ok: true; readonly payload: string }
  /** `environmentLost`: the environment died or was killed with this invocation. */
  | { readonly ok: false; readonly error: LambdaError; readonly environmentLost: boolean };

export interface EnvironmentSetup {
  readonly codeDir: string;
  readonly memoryMb: number;
  /** Its whole environment: nothing of the harness's process is inherited. */
  readonly env: Readonly<Record<string, string>>;
  /** Freeze the process between invocations. */
  readonly freeze: boolean;
  readonly onLog: (line: string) => void;
}

/** What the runtime tells the harness. */
type FromRuntime =
  | { readonly type: "ready"; readonly error?: LambdaError }
  | { readonly type: "response"; readonly id: string; readonly payload: string }
  | { readonly type: "error"; readonly id: string; readonly error: LambdaError };

export class ExecutionEnvironment {
  readonly logStreamName: string;
  readonly #child: ChildProcess;
  readonly #setup: EnvironmentSetup;
  readonly #ready: Promise<LambdaError | undefined>;
  #alive = true;
  #frozen = false;
  #stderrTail = "";
  #pending: { id: string; settle: (outcome: InvokeOutcome) => void } | undefined;
  readonly #exited: Promise<void>;

  constructor(setup: EnvironmentSetup, logStreamName: string) {
    this.#setup = setup;
    this.logStreamName = logStreamName;
    this.#child = fork(RUNTIME, [], {
      execPath: process.execPath,
      execArgv: [`--max-old-space-size=${setup.memoryMb}`],
      cwd: setup.codeDir,
      env: { ...setup.env },
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    for (const stream of [this.#child.stdout, this.#child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on("line", (line) => {
        if (stream === this.#child.stderr) this.#stderrTail = `${this.#stderrTail}\n${line}`.slice(-4096);
        setup.onLog(line);
      });
    }
    this.#exited = new Promise((resolve) => this.#child.once("exit", () => resolve()));
    this.#ready = new Promise((resolve) => {
      const timer = setTimeout(
        () =>
          resolve({ errorType: "Runtime.InitTimeout", errorMessage: "The init phase exceeded 10 seconds." }),
        INIT_TIMEOUT_MS,
      );
      this.#child.on("message", (message: FromRuntime) => {
        if (message.type === "ready") {
          clearTimeout(timer);
          resolve(message.error);
          return;
        }
        const pending = this.#pending;
        if (!pending || pending.id !== message.id) return;
        this.#pending = undefined;
        if (message.type === "response") pending.settle({ ok: true, payload: message.payload });
        else {
          // An uncaught error ends the process after the runtime reports it.
          const lost = message.error.errorType.startsWith("Runtime.");
          pending.settle({ ok: false, error: message.error, environmentLost: lost });
        }
      });
      this.#child.once("exit", () => {
        clearTimeout(timer);
        resolve({ errorType: "Runtime.ExitError", errorMessage: "Runtime exited during init." });
      });
    });
    this.#child.once("exit", (code, signal) => {
      this.#alive = false;
      const pending = this.#pending;
      this.#pending = undefined;
      pending?.settle({ ok: false, error: this.#exitError(pending.id, code, signal), environmentLost: true });
    });
  }

  /** Whether it can take another invocation. */
  get alive(): boolean {
    return this.#alive;
  }

  /** Runs one invocation; the environment is killed if it outlasts `timeoutMs`. */
  async invoke(
    requestId: string,
    event: unknown,
    timeoutMs: number,
    context: Record<string, unknown>,
  ): Promise<InvokeOutcome> {
    this.#thaw();
    const initError = await this.#ready;
    if (initError) {
      this.kill();
      return { ok: false, error: initError, environmentLost: true };
    }
    if (!this.#alive) {
      return { ok: false, error: this.#exitError(requestId, null, null), environmentLost: true };
    }
    const deadline = Date.now() + timeoutMs;
    const outcome = await new Promise<InvokeOutcome>((settle) => {
      const timer = setTimeout(() => {
        if (this.#pending?.id !== requestId) return;
        this.#pending = undefined;
        this.kill();
        settle({
          ok: false,
          error: {
            errorType: "Sandbox.Timedout",
            errorMessage: `RequestId: ${requestId} Error: Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`,
          },
          environmentLost: true,
        });
      }, timeoutMs);
      this.#pending = {
        id: requestId,
        settle: (result) => {
          clearTimeout(timer);
          settle(result);
        },
      };
      this.#child.send({ type: "invoke", id: requestId, event, deadline, context });
    });
    if (outcome.ok || !outcome.environmentLost) this.#freeze();
    else this.kill();
    return outcome;
  }

  kill(): void {
    this.#alive = false;
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill("SIGKILL");
  }

  /** Kills it and waits for the process to be gone. */
  async stop(): Promise<void> {
    this.kill();
    await this.#exited;
  }

  #freeze(): void {
    if (!this.#setup.freeze || !this.#alive || this.#frozen) return;
    this.#frozen = this.#child.kill("SIGSTOP");
  }

  #thaw(): void {
    if (!this.#frozen) return;
    this.#frozen = false;
    this.#child.kill("SIGCONT");
  }

  #exitError(requestId: string, code: number | null, signal: NodeJS.Signals | null): LambdaError {
    const status = signal ? `signal: ${signal.replace(/^SIG/, "").toLowerCase()}` : `exit status ${code}`;
    const outOfMemory = /heap out of memory|Reached heap limit/i.test(this.#stderrTail);
    return {
      errorType: outOfMemory ? "Runtime.OutOfMemory" : "Runtime.ExitError",
      errorMessage: `RequestId: ${requestId} Error: Runtime exited with error: ${status}`,
    };
  }
}
