// The code each worker thread of a ThreadPoolTaskRunner runs: it imports task modules, finds
// tasks by name, and runs the attempts it is sent, all at once: async ones interleave on this
// thread's event loop, and a synchronous one holds the loop (and the others) until it returns.
import { format } from "node:util";
import { type MessagePort, parentPort, receiveMessageOnPort, workerData } from "node:worker_threads";
import { enterWorkerMode, scopeStorage } from "../../context.js";
import { CancelledError, SquallError, toError } from "../../errors.js";
import { setRecordSink, setThreshold } from "../../logging/config.js";
import { captureConsole, streamOf } from "../../logging/console-capture.js";
import {
  decodeArguments,
  encodeError,
  findTask,
  RemoteScope,
  serializerFor,
  storedArguments,
  verifyCode,
} from "../../remote/attempt.js";
import { defaultSerializer, type Serializer } from "../../serialization/serializer.js";
import { resultKey } from "../../storage/keys.js";
import { openStore } from "../../storage/open-store.js";
import type { AttemptMessage, FromWorker, OutcomeMessage, ToWorker, WorkerSetup } from "./protocol.js";
import { transferable } from "./transfer.js";

if (!parentPort) throw new SquallError("The thread worker must run in a worker thread.");
const port: MessagePort = parentPort;
const setup = workerData as WorkerSetup;
const post = (message: FromWorker, transfer?: ArrayBuffer[]) => port.postMessage(message, transfer);

enterWorkerMode();
setThreshold(setup.logThreshold);
setRecordSink((record) => post({ type: "log", record }));
captureConsole((method, args, scope) =>
  post({
    type: "print",
    stream: streamOf(method),
    text: format(...args),
    id: scope instanceof RemoteScope ? (scope.spec as AttemptMessage).id : undefined,
  }),
);

/** Attempts this thread holds, by id, each with the controller of its run's signal. */
const running = new Map<number, AbortController>();

function onMessage(message: ToWorker): void {
  if (message.type === "stop") {
    for (const id of message.ids) running.get(id)?.abort(new CancelledError(message.reason));
    return;
  }
  for (const attempt of message.attempts) void run(attempt);
}

/**
 * Takes in the messages that arrived while the event loop was held (by another run's
 * synchronous code): a stop sent meanwhile is seen before the function it stops is called.
 */
function takeMessagesIn(): void {
  for (let received = receiveMessageOnPort(port); received; received = receiveMessageOnPort(port)) {
    onMessage(received.message as ToWorker);
  }
}

port.on("message", onMessage);
post({ type: "ready" });

async function run(attempt: AttemptMessage): Promise<void> {
  const controller = new AbortController();
  running.set(attempt.id, controller);
  const times = { startedAt: Date.now() };
  // Each result goes back as soon as its run finishes, on its own.
  const report = (outcome: Ended) => {
    running.delete(attempt.id);
    const ended: OutcomeMessage = { ...outcome, startedAt: times.startedAt, endedAt: Date.now() };
    post({ type: "outcomes", outcomes: [ended] }, transferable([ended.bytes]));
  };
  try {
    const def = await findTask(attempt.module, attempt.task);
    verifyCode(def, attempt);
    const serializer = serializerFor(attempt, def.settings.serializer);
    const args = await decodeArguments(await argumentBytes(attempt), serializer);
    takeMessagesIn();
    if (controller.signal.aborted) {
      report(dropped(attempt));
      return;
    }
    post({ type: "started", id: attempt.id }); // before the call: a call that never returns is known
    const scope = new RemoteScope(attempt, controller.signal);
    times.startedAt = Date.now();
    const value = scopeStorage.run(scope, def.fn as (...args: unknown[]) => unknown, ...args);
    // A synchronous function's outcome is posted before anything else on this thread runs:
    // another run's synchronous function must not hold it back.
    const outcome = completed(attempt, isThenable(value) ? await value : value, serializer);
    report(outcome instanceof Promise ? await outcome : outcome);
  } catch (thrown) {
    report({
      id: attempt.id,
      status: "failed",
      stored: undefined,
      serializer: defaultSerializer.name,
      bytes: encodeError(toError(thrown)),
    });
  }
}

type Ended = Omit<OutcomeMessage, "startedAt" | "endedAt">;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    typeof (value as { then?: unknown }).then === "function"
  );
}

function dropped(attempt: AttemptMessage): Ended {
  return { id: attempt.id, status: "dropped", bytes: EMPTY, stored: undefined, serializer: "default" };
}

function completed(attempt: AttemptMessage, value: unknown, serializer: Serializer): Ended | Promise<Ended> {
  const bytes = serializer.serialize(value, "result");
  const offload = attempt.offload;
  if (!offload || bytes.byteLength <= offload.aboveBytes) {
    return { id: attempt.id, status: "completed", bytes, stored: undefined, serializer: serializer.name };
  }
  return offloaded(attempt, bytes, serializer, offload.locator);
}

async function offloaded(
  attempt: AttemptMessage,
  bytes: Uint8Array,
  serializer: Serializer,
  locator: NonNullable<AttemptMessage["offload"]>["locator"],
): Promise<Ended> {
  const key = resultKey(attempt.flowRun.id, attempt.taskRun.id);
  await (await openStore(locator)).put(key, bytes);
  const stored = { key, size: bytes.byteLength };
  return { id: attempt.id, status: "completed", bytes: EMPTY, stored, serializer: serializer.name };
}

const EMPTY = new Uint8Array(0);
/** The serialized arguments: inline, or read from the store they were offloaded to. */
async function argumentBytes(attempt: AttemptMessage): Promise<Uint8Array> {
  if (attempt.argsKey === undefined || !attempt.offload) return attempt.args;
  return storedArguments(await openStore(attempt.offload.locator), attempt.argsKey);
}
