// A function of the local environment, in a worker thread: it imports the function's handler
// module (functions/worker.ts or functions/coordinator.ts, the very handlers Lambda calls) and
// feeds it from its queues through emulated event source mappings, as Lambda would.
import { parentPort, workerData } from "node:worker_threads";
import { SquallError } from "../../errors.js";
import { addressFromEnv, clientsFor } from "../address.js";
import { SqsQueue } from "../queue.js";
import { whenReloadNeeded } from "../worker/reload.js";
import type { InvocationOutcome } from "./invoke-api.js";
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
  | { readonly type: "stopped" };

const port = parentPort;
if (!port) throw new SquallError("A function thread must run in a worker thread.");
const setup = workerData as FunctionThreadSetup;

const { handler } = (await import(setup.handler)) as { handler: PolledHandler & InvocableHandler };
const address = addressFromEnv();
if (!address) throw new SquallError("A function thread needs SQUALL_* variables in its environment.");
const { sqs } = clientsFor(address);
const pollers = setup.sources.map(
  (source) =>
    new EventSourcePoller({
      queue: new SqsQueue({ url: source.queueUrl, client: sqs }),
      handler,
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
    }),
);
for (const poller of pollers) poller.start();
// A task module changed since this thread loaded it: the worker has sent its runs back; this
// thread ends its invocation, stops, and the environment starts a fresh one in its place (as it
// replaces one that died), which loads the module as it is now.
let reloading = false;
whenReloadNeeded((module) => {
  if (reloading) return;
  reloading = true;
  process.stderr.write(
    `squall local: ${module} changed since a worker loaded it; a fresh worker takes its place.\n`,
  );
  void Promise.all(pollers.map((poller) => poller.stop())).then(() => {
    sqs.destroy();
    process.exit(0);
  });
});
port.postMessage({ type: "ready" } satisfies FromFunctionThread);

type InvocableHandler = (event: unknown, context: { getRemainingTimeInMillis(): number }) => Promise<unknown>;

/** Messages the environment sends a function thread. */
export type ToFunctionThread =
  | { readonly type: "stop" }
  | { readonly type: "invoke"; readonly id: number; readonly payload: unknown; readonly deadline: number };

port.on("message", async (message: ToFunctionThread) => {
  if (message.type === "invoke") {
    const { id, payload, deadline } = message;
    let outcome: InvocationOutcome;
    try {
      const result = await handler(payload, { getRemainingTimeInMillis: () => deadline - Date.now() });
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
