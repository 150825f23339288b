// A function of the local environment, in a worker thread: it imports the function's handler
// module (functions/worker.ts or functions/coordinator.ts, the very handlers Lambda calls) and
// feeds it from its queues through emulated event source mappings, as Lambda would.
import { parentPort, workerData } from "node:worker_threads";
import { SquallError } from "../../errors.js";
import { addressFromEnv, clientsFor } from "../address.js";
import { SqsQueue } from "../queue.js";
import { EventSourcePoller, type PolledHandler } from "./poller.js";

/** What the environment tells a function thread (its `workerData`). */
export interface FunctionThreadSetup {
  readonly entry: string;
  readonly tsx: string | undefined;
  /** The handler module's URL; its `handler` export is called. */
  readonly handler: string;
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
  | { readonly type: "stopped" };

const port = parentPort;
if (!port) throw new SquallError("A function thread must run in a worker thread.");
const setup = workerData as FunctionThreadSetup;

const { handler } = (await import(setup.handler)) as { handler: PolledHandler };
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
port.postMessage({ type: "ready" } satisfies FromFunctionThread);

port.on("message", async (message: { type: "stop" }) => {
  if (message.type !== "stop") return;
  await Promise.all(pollers.map((poller) => poller.stop()));
  sqs.destroy();
  port.postMessage({ type: "stopped" } satisfies FromFunctionThread);
  port.close();
});
