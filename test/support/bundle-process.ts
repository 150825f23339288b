// A synthesized function's bundle in a Node process of its own, as a Lambda execution environment
// holds it: imported once, then invoked as often as the test (or an emulated event source) asks.
import { type ChildProcess, spawn } from "node:child_process";
import { pathToFileURL } from "node:url";

export type Invocation =
  | { readonly ok: true; readonly result: unknown }
  | { readonly ok: false; readonly error: string };

export interface BundleProcess {
  /** Calls the bundle's `handler` with `event` and a context whose remaining time counts down from `timeoutMs`. */
  invoke(event: unknown, timeoutMs?: number): Promise<Invocation>;
  /** What the process wrote so far, for a failing test's message. */
  output(): string;
  stop(): Promise<void>;
}

/** The process's side: import the bundle, then run each invocation the parent sends. */
const RUNTIME = (bundle: string) => `const { handler } = await import(${JSON.stringify(bundle)});
process.on("message", async ({ id, event, deadline }) => {
  try {
    const result = await handler(event, { getRemainingTimeInMillis: () => deadline - Date.now() });
    process.send({ id, ok: true, result });
  } catch (error) {
    process.send({ id, ok: false, error: String(error?.stack ?? error) });
  }
});
process.send({ ready: true });`;

/** Starts the bundle at `path` with exactly `env` (and PATH); resolves once it has loaded. */
export function startBundleProcess(path: string, env: Record<string, string>): Promise<BundleProcess> {
  const child: ChildProcess = spawn(
    process.execPath,
    ["--input-type=module", "-e", RUNTIME(pathToFileURL(path).href)],
    { env: { PATH: process.env.PATH ?? "", ...env }, stdio: ["ignore", "pipe", "pipe", "ipc"] },
  );
  let output = "";
  child.stdout?.on("data", (chunk) => {
    output += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    output += chunk;
  });
  const waiting = new Map<number, (invocation: Invocation) => void>();
  let next = 0;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => {
      for (const settle of waiting.values()) settle({ ok: false, error: `the process exited (${code})` });
      reject(new Error(`The bundle process exited with code ${code} before it was ready:\n${output}`));
    });
    child.on("message", (message: { ready?: true; id?: number } & Invocation) => {
      if (message.ready) {
        resolve({
          invoke(event, timeoutMs = 30_000) {
            const id = ++next;
            return new Promise((settle) => {
              waiting.set(id, (invocation) => {
                waiting.delete(id);
                settle(invocation);
              });
              child.send({ id, event, deadline: Date.now() + timeoutMs });
            });
          },
          output: () => output,
          async stop() {
            if (child.exitCode === null) child.kill();
            await exited;
          },
        });
      } else if (message.id !== undefined) {
        const { id, ...invocation } = message;
        waiting.get(id)?.(invocation as Invocation);
      }
    });
  });
}
