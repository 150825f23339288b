// The code each worker thread of a ThreadPoolTaskRunner runs: it imports task modules,
// finds tasks by name, and runs the attempts it is sent, one at a time.
import { format } from "node:util";
import { parentPort, workerData } from "node:worker_threads";
import { enterWorkerMode, scopeStorage } from "../../context.js";
import { SquallError, toError } from "../../errors.js";
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

const port = parentPort;
if (!port) throw new SquallError("The thread worker must run in a worker thread.");
const setup = workerData as WorkerSetup;
const post = (message: FromWorker, transfer?: ArrayBuffer[]) => port.postMessage(message, transfer);

enterWorkerMode();
setThreshold(setup.logThreshold);
setRecordSink((record) => post({ type: "log", record }));
captureConsole((method, args) => post({ type: "print", stream: streamOf(method), text: format(...args) }));

const queue: AttemptMessage[] = [];
let draining = false;

port.on("message", (message: ToWorker) => {
  if (message.type === "drop") {
    const dropped = new Set(message.ids);
    for (let i = queue.length - 1; i >= 0; i--) {
      if (dropped.has((queue[i] as AttemptMessage).id)) queue.splice(i, 1);
    }
    return;
  }
  queue.push(...message.attempts);
  if (!draining) void drain();
});

/** How long the loop may run attempts back to back before it lets messages in. */
const YIELD_MS = 1;

async function drain(): Promise<void> {
  draining = true;
  let since = performance.now();
  while (queue.length > 0) {
    const attempt = queue.shift() as AttemptMessage;
    // Each result goes back when its run finishes, not after the runs queued behind it.
    const outcome = await runAttempt(attempt);
    post({ type: "outcomes", outcomes: [outcome] }, transferable([outcome.bytes]));
    if (performance.now() - since > YIELD_MS) {
      await new Promise(setImmediate); // lets "drop" messages in between attempts
      since = performance.now();
    }
  }
  draining = false;
}

async function runAttempt(attempt: AttemptMessage): Promise<OutcomeMessage> {
  const times = { startedAt: Date.now() };
  const outcome = await attemptOutcome(attempt, times);
  return { ...outcome, startedAt: times.startedAt, endedAt: Date.now() };
}

type Ended = Omit<OutcomeMessage, "startedAt" | "endedAt">;

/** `times.startedAt` is set when the function is called: loading its module is the worker's time. */
async function attemptOutcome(attempt: AttemptMessage, times: { startedAt: number }): Promise<Ended> {
  try {
    const def = await findTask(attempt.module, attempt.task);
    verifyCode(def, attempt);
    const serializer = serializerFor(attempt, def.settings.serializer);
    const args = await decodeArguments(await argumentBytes(attempt), serializer);
    if (attempt.timed) post({ type: "started", id: attempt.id }); // the deadline counts from here
    const scope = new RemoteScope(attempt); // a stopped attempt ends with its thread
    times.startedAt = Date.now();
    const value = await scopeStorage.run(scope, def.fn as (...args: unknown[]) => unknown, ...args);
    return await completed(attempt, value, serializer);
  } catch (thrown) {
    return {
      id: attempt.id,
      status: "failed",
      stored: undefined,
      serializer: defaultSerializer.name,
      bytes: encodeError(toError(thrown)),
    };
  }
}

async function completed(attempt: AttemptMessage, value: unknown, serializer: Serializer): Promise<Ended> {
  const bytes = serializer.serialize(value, "result");
  const offload = attempt.offload;
  if (!offload || bytes.byteLength <= offload.aboveBytes) {
    return { id: attempt.id, status: "completed", bytes, stored: undefined, serializer: serializer.name };
  }
  const key = resultKey(attempt.flowRun.id, attempt.taskRun.id);
  await (await openStore(offload.locator)).put(key, bytes);
  const stored = { key, size: bytes.byteLength };
  return { id: attempt.id, status: "completed", bytes: EMPTY, stored, serializer: serializer.name };
}

const EMPTY = new Uint8Array(0);
/** The serialized arguments: inline, or read from the store they were offloaded to. */
async function argumentBytes(attempt: AttemptMessage): Promise<Uint8Array> {
  if (attempt.argsKey === undefined || !attempt.offload) return attempt.args;
  return storedArguments(await openStore(attempt.offload.locator), attempt.argsKey);
}
