// A function of the local environment, in a worker thread: it imports the function's handler
// module (functions/worker.ts or functions/coordinator.ts, the very handlers Lambda calls) and
// feeds it from its queues through emulated event source mappings, as Lambda would.
import { pathToFileURL } from "node:url";
import { parentPort, workerData } from "node:worker_threads";
import { SquallError } from "../../errors.js";
import { addressFromEnv, clientsFor } from "../address.js";
import { SqsQueue } from "../queue.js";
import { whenReloadNeeded } from "../worker/reload.js";
import type { InvocationOutcome } from "./invoke-api.js";
import { trackLoadedFiles } from "./loaded-files.js";
import { EventSourcePoller, type PolledHandler } from "./poller.js";

/** What the environment tells a function thread (its `workerData`). */
export interface FunctionThreadSetup {
  readonly entry: string;
  readonly tsx: string | undefined;
  /** The handler module's URL; its `handler` export is called. */
  readonly handler: string;
  /** Whether it takes invocations from the environment (the flow-runner) rather than polling. */
  readonly invocable: boolean;
  /** The function's timeout: each polled invocation's context counts down from it. */
  readonly timeoutSeconds?: number;
  /**
   * The project whose source files this thread replaces itself for when one it loaded changes (the
   * worker's and the flow-runner's threads, which import the project's modules). @default none
   */
  readonly projectRoot?: string;
  readonly sources: readonly {
    readonly queueUrl: string;
    readonly eventSourceArn: string;
    readonly batchSize: number;
    readonly batchingWindowMs: number;
    readonly visibilitySeconds: number;
  }[];
}

/** Messages a function thread posts: the receipt handles it holds, and that it has stopped. */
export type FromFunctionThread =
  | {
      readonly type: "holding";
      readonly queueUrl: string;
      readonly handles: readonly string[];
      readonly holding: boolean;
    }
  | { readonly type: "ready" }
  | { readonly type: "invoked"; readonly id: number; readonly outcome: InvocationOutcome }
  /** The invocation was not run: this thread is being replaced; invoke its replacement. */
  | { readonly type: "reloading"; readonly id: number }
  | { readonly type: "stopped" };

/** How often an idle thread checks the project files it loaded. */
const IDLE_CHECK_MS = 500;
/**
 * How long a batch sent back by a stale thread stays hidden: past the idle check and the last
 * poll (1 s) of every other thread that loaded the same file, so that a fresh thread takes it.
 */
const RELOAD_RETURN_SECONDS = 2;

const port = parentPort;
if (!port) throw new SquallError("A function thread must run in a worker thread.");
const setup = workerData as FunctionThreadSetup;

// Recorded from before the handler is imported, so every project file it brings in is seen.
const loadedFiles = setup.projectRoot === undefined ? undefined : trackLoadedFiles(setup.projectRoot);
const { handler } = (await import(setup.handler)) as { handler: PolledHandler & InvocableHandler };
const address = addressFromEnv();
if (!address) throw new SquallError("A function thread needs SQUALL_* variables in its environment.");
const { sqs } = clientsFor(address);

// A thread that loaded a project file since changed (or whose worker found a task module changed:
// it has sent those runs back) is replaced once its invocations in progress end, as the
// environment replaces one that died: the fresh thread imports the project as it is now. A run in
// progress ends with the code it started with; an invocation that starts meanwhile is not run.
let reloading = false;
let active = 0; // invocations running the handler
let idle: (() => void) | undefined;
const reload = (changed: string) => {
  if (reloading) return;
  reloading = true;
  process.stderr.write(
    `squall local: ${changed} changed since a ${setup.invocable ? "flow-runner" : "worker"} thread loaded it; a fresh thread takes its place.\n`,
  );
  void (async () => {
    await Promise.all(pollers.map((poller) => poller.stop({ finishPoll: true })));
    if (active > 0) await new Promise<void>((resolve) => (idle = resolve));
    sqs.destroy();
    process.exit(0);
  })();
};
whenReloadNeeded(reload);
/** Whether this thread must make way for a fresh one before running anything more. */
const stale = (): boolean => {
  if (!reloading) {
    const changed = loadedFiles?.changed();
    if (changed !== undefined) reload(pathToFileURL(changed).href);
  }
  return reloading;
};
const running = async <T>(invocation: () => Promise<T>): Promise<T> => {
  active++;
  try {
    return await invocation();
  } finally {
    if (--active === 0) idle?.();
  }
};
// An idle thread checks too, so that it is replaced before the next run's messages reach it.
if (loadedFiles) {
  setInterval(() => {
    if (active === 0) stale();
  }, IDLE_CHECK_MS).unref();
}

const pollers = setup.sources.map((source) => {
  const queue = new SqsQueue({ url: source.queueUrl, client: sqs });
  return new EventSourcePoller({
    queue,
    // A batch that reaches a stale thread goes back, visible again after a moment: by then every
    // idle stale thread has seen the change and stopped polling, so a fresh thread takes it.
    handler: async (event, context) => {
      if (!stale()) return running(() => handler(event, context));
      await Promise.all(
        event.Records.map((record) => queue.release(record.receiptHandle, RELOAD_RETURN_SECONDS)),
      ).catch(() => {});
      throw new SquallError("Not run: the thread is being replaced by one that loads the project anew.");
    },
    eventSourceArn: source.eventSourceArn,
    batchSize: source.batchSize,
    batchingWindowMs: source.batchingWindowMs,
    visibilitySeconds: source.visibilitySeconds,
    timeoutSeconds: setup.timeoutSeconds,
    onHolding: (handles, holding) =>
      port.postMessage({
        type: "holding",
        queueUrl: source.queueUrl,
        handles,
        holding,
      } satisfies FromFunctionThread),
  });
});
for (const poller of pollers) poller.start();
port.postMessage({ type: "ready" } satisfies FromFunctionThread);

type InvocableHandler = (event: unknown, context: { getRemainingTimeInMillis(): number }) => Promise<unknown>;

/** Messages the environment sends a function thread. */
export type ToFunctionThread =
  | { readonly type: "stop" }
  | { readonly type: "invoke"; readonly id: number; readonly payload: unknown; readonly deadline: number };

port.on("message", async (message: ToFunctionThread) => {
  if (message.type === "invoke") {
    const { id, payload, deadline } = message;
    if (stale()) {
      port.postMessage({ type: "reloading", id } satisfies FromFunctionThread);
      return;
    }
    let outcome: InvocationOutcome;
    try {
      const result = await running(() =>
        handler(payload, { getRemainingTimeInMillis: () => deadline - Date.now() }),
      );
      outcome = { ok: true, result: JSON.parse(JSON.stringify(result ?? null)) }; // Lambda answers JSON
    } catch (thrown) {
      const error = thrown instanceof Error ? thrown : new Error(String(thrown));
      outcome = {
        ok: false,
        errorType: error.name,
        errorMessage: error.message,
        stackTrace: (error.stack ?? "")
          .split("\n")
          .slice(1)
          .map((line) => line.trim()),
      };
    }
    port.postMessage({ type: "invoked", id, outcome } satisfies FromFunctionThread);
    return;
  }
  await Promise.all(pollers.map((poller) => poller.stop()));
  sqs.destroy();
  port.postMessage({ type: "stopped" } satisfies FromFunctionThread);
  port.close();
});
