import { extname } from "node:path";
import { Worker } from "node:worker_threads";
import { scopeStorage } from "../../context.js";
import { CancelledError, CrashedError, toError } from "../../errors.js";
import { emit, isEnabled, threshold } from "../../logging/config.js";
import { builtInSerializer } from "../../remote/attempt.js";
import type { RunScope } from "../../runs.js";
import { learnErrorClassesOf } from "../../serialization/errors.js";
import { type Offload, StoredValue } from "../../serialization/stored.js";
import { runPrefix } from "../../storage/keys.js";
import type { AttemptOutcome, TaskAttempt, TaskInvoker } from "../task-runner.js";
import { BOOTSTRAP, tsxApiFor } from "./bootstrap.js";
import type { AttemptMessage, FromWorker, OutcomeMessage, WorkerSetup } from "./protocol.js";
import { transferable } from "./transfer.js";

/** Attempts a worker may hold beyond the one it runs: fewer round trips, still fair to long tasks. */
const PREFETCH = 16;

interface Pending {
  readonly message: AttemptMessage;
  readonly attempt: TaskAttempt;
  readonly resolve: (outcome: AttemptOutcome) => void;
  readonly timed: boolean;
}

interface PoolWorker {
  readonly thread: Worker;
  /** How run events name it: `thread <id>`. */
  readonly label: string;
  /** Sent and not yet answered, in the order the worker runs them: the first is running. */
  readonly inflight: Pending[];
  /** Runs a task with a deadline: nothing else is sent to it meanwhile, so its deadline is its own. */
  exclusive: boolean;
  dead: boolean;
}

export interface PoolOptions {
  readonly workers: number;
  readonly memoryMb: number | undefined;
  readonly offload: Offload | undefined;
}

// The thread entry is this SDK's own worker module: `.ts` when running from source.
const ENTRY = new URL(`./worker${extname(new URL(import.meta.url).pathname)}`, import.meta.url).href;

/**
 * Worker threads that run task attempts. Attempts queue here in submission order and go to
 * the least busy thread; a thread that dies, or is stopped for a deadline or a cancellation,
 * is replaced, and the attempts it had not started go back to the front of the queue.
 */
export class WorkerPool implements TaskInvoker {
  readonly #options: PoolOptions;
  readonly #workers: PoolWorker[] = [];
  #queue: Pending[] = [];
  #head = 0;
  #nextId = 0;
  #scheduled = false;
  #closed = false;
  /** Attempts queued or running, to find when asked to stop one. */
  readonly #pending = new Map<TaskAttempt, Pending>();

  constructor(options: PoolOptions) {
    this.#options = options;
    for (let i = 0; i < options.workers; i++) this.#workers.push(this.#spawn());
  }

  get size(): number {
    return this.#workers.length;
  }

  invoke(attempt: TaskAttempt): Promise<AttemptOutcome> {
    return new Promise((resolve) => {
      this.#enqueue(attempt, resolve).catch((error) => resolve({ status: "failed", error: toError(error) }));
    });
  }

  async #enqueue(attempt: TaskAttempt, resolve: (outcome: AttemptOutcome) => void): Promise<void> {
    if (this.#closed) {
      resolve({ status: "crashed", error: new CrashedError("The thread pool was shut down.") });
      return;
    }
    if (!attempt.task.module) {
      resolve({
        status: "failed",
        error: new CrashedError(
          `Task '${attempt.task.name}' has no module a worker thread could import it from.`,
        ),
      });
      return;
    }
    let args = attempt.takeArgBytes() ?? attempt.serializer.serialize(attempt.args, "args");
    const id = ++this.#nextId;
    const offload = this.#options.offload;
    let argsKey: string | undefined;
    if (offload && args.byteLength > offload.aboveBytes) {
      // A large payload travels by reference: the thread reads it from the store.
      argsKey = `${runPrefix(attempt.flowRun.id)}payloads/${attempt.taskRun.id}-${attempt.taskRun.attempts}`;
      await offload.store.put(argsKey, args);
      args = new Uint8Array(0);
    }
    const message: AttemptMessage = {
      id,
      module: attempt.task.module,
      task: attempt.task.name,
      codeHash: attempt.task.codeHash,
      serializer: attempt.serializer.name,
      verifySource: attempt.verifySource,
      args,
      argsKey,
      offload: offload && { locator: offload.store.locator, aboveBytes: offload.aboveBytes },
      logPrints: attempt.logPrints,
      timed: attempt.timeoutMs !== undefined,
      flowRun: { id: attempt.flowRun.id, name: attempt.flowRun.name, flowName: attempt.flowRun.flowName },
      taskRun: {
        id: attempt.taskRun.id,
        name: attempt.taskRun.name,
        attempts: attempt.taskRun.attempts,
        tags: attempt.taskRun.tags,
      },
    };
    const pending: Pending = { message, attempt, resolve, timed: attempt.timeoutMs !== undefined };
    this.#pending.set(attempt, pending);
    this.#queue.push(pending);
    this.#schedule();
  }

  /** Stops every thread; attempts still queued or running end as crashed. */
  async close(): Promise<void> {
    this.#closed = true;
    const left = [...this.#queue.slice(this.#head), ...this.#workers.flatMap((w) => w.inflight)];
    this.#queue = [];
    this.#head = 0;
    for (const pending of left) {
      this.#finish(pending, { status: "crashed", error: new CrashedError("The thread pool was shut down.") });
    }
    const workers = this.#workers.splice(0);
    for (const worker of workers) worker.dead = true;
    await Promise.all(workers.map((worker) => worker.thread.terminate()));
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(this.#dispatch);
  }

  readonly #dispatch = (): void => {
    this.#scheduled = false;
    const batches = new Map<PoolWorker, Pending[]>();
    while (this.#head < this.#queue.length) {
      const next = this.#queue[this.#head] as Pending;
      const worker = this.#leastBusyTaking(next);
      if (!worker) break;
      this.#head += 1;
      worker.inflight.push(next);
      if (next.timed) worker.exclusive = true;
      const batch = batches.get(worker);
      if (batch) batch.push(next);
      else batches.set(worker, [next]);
    }
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    }
    for (const [worker, batch] of batches) {
      const attempts = batch.map((p) => p.message);
      worker.thread.postMessage({ type: "attempts", attempts }, transferable(attempts.map((a) => a.args)));
    }
  };

  #leastBusyTaking(next: Pending): PoolWorker | undefined {
    let best: PoolWorker | undefined;
    for (const worker of this.#workers) {
      const busy = worker.inflight.length;
      if (worker.dead || worker.exclusive || busy >= PREFETCH || (next.timed && busy > 0)) continue;
      if (!best || busy < best.inflight.length) best = worker;
    }
    return best;
  }

  #spawn(): PoolWorker {
    const setup: WorkerSetup = { entry: ENTRY, tsx: tsxApiFor(ENTRY), logThreshold: threshold() };
    const memoryMb = this.#options.memoryMb;
    const thread = new Worker(BOOTSTRAP, {
      eval: true,
      workerData: setup,
      resourceLimits: memoryMb === undefined ? undefined : { maxOldGenerationSizeMb: memoryMb },
    });
    thread.unref(); // an idle pool never keeps the process alive
    const label = `thread ${thread.threadId}`;
    const worker: PoolWorker = { thread, label, inflight: [], exclusive: false, dead: false };
    thread.on("message", (message: FromWorker) => this.#onMessage(worker, message));
    thread.on("error", (error) => this.#onDeath(worker, describeCrash(error, memoryMb)));
    thread.on("exit", (code) => this.#onDeath(worker, `the worker thread exited with code ${code}`));
    return worker;
  }

  #onMessage(worker: PoolWorker, message: FromWorker): void {
    switch (message.type) {
      case "outcomes":
        for (const outcome of message.outcomes) this.#onOutcome(worker, outcome);
        this.#schedule();
        return;
      case "started":
        worker.inflight.find((p) => p.message.id === message.id)?.attempt.started();
        return;
      case "log":
        if (isEnabled(message.record.level)) emit(message.record);
        return;
      case "print": {
        // A thread runs one attempt at a time, the first in flight: the output is its run's.
        const stream = message.stream === "stdout" ? process.stdout : process.stderr;
        const running = worker.inflight[0]?.attempt.taskRun as unknown as RunScope | undefined;
        if (running) scopeStorage.run(running, () => stream.write(`${message.text}\n`));
        else stream.write(`${message.text}\n`);
        return;
      }
    }
  }

  #finish(pending: Pending, outcome: AttemptOutcome): void {
    this.#pending.delete(pending.attempt);
    pending.resolve(outcome);
  }

  #onOutcome(worker: PoolWorker, outcome: OutcomeMessage): void {
    const index = worker.inflight.findIndex((p) => p.message.id === outcome.id);
    if (index < 0) return;
    const [pending] = worker.inflight.splice(index, 1) as [Pending];
    if (pending.timed) worker.exclusive = false;
    const ran = { worker: worker.label, startedAt: outcome.startedAt, endedAt: outcome.endedAt };
    const finish = (ended: AttemptOutcome) => this.#finish(pending, { ...ended, ran });
    const { task } = pending.attempt;
    const serializer =
      outcome.serializer === pending.attempt.serializer.name
        ? pending.attempt.serializer
        : (builtInSerializer(outcome.serializer) ?? pending.attempt.serializer);
    const offload = this.#options.offload;
    if (outcome.stored && offload) {
      const { key, size } = outcome.stored;
      finish({
        status: "completed",
        value: new StoredValue(key, offload.store.locator, size),
      });
      return;
    }
    const decode = () => {
      try {
        const value = serializer.deserialize(outcome.bytes);
        finish(
          outcome.status === "completed"
            ? { status: "completed", value }
            : { status: "failed", error: value as Error },
        );
      } catch (error) {
        finish({ status: "failed", error: toError(error) });
      }
    };
    // Error classes the task's module exports come back as themselves: decoded once they are known.
    if (outcome.status === "completed") decode();
    else void learnErrorClassesOf(task.module as string).then(decode);
  }

  /** A deadline or a cancellation: drop a queued attempt, or stop the thread running it. */
  stop(attempt: TaskAttempt, reason: Error): void {
    const pending = this.#pending.get(attempt);
    if (!pending) return;
    const queued = this.#queue.indexOf(pending, this.#head);
    if (queued >= 0) {
      this.#queue.splice(queued, 1);
      this.#finish(pending, { status: "crashed", error: reason });
      return;
    }
    const worker = this.#workers.find((w) => w.inflight.includes(pending));
    if (!worker) return;
    if (worker.inflight[0] !== pending) {
      // Sent but not started: take it back.
      worker.inflight.splice(worker.inflight.indexOf(pending), 1);
      worker.thread.postMessage({ type: "drop", ids: [pending.message.id] });
      this.#finish(pending, { status: "crashed", error: reason });
      return;
    }
    this.#onDeath(worker, reason.message, pending);
    void worker.thread.terminate();
  }

  #withArguments(pending: Pending): Pending {
    if (!argumentsMoved(pending)) return pending;
    const { attempt } = pending;
    const args = attempt.serializer.serialize(attempt.args, "args");
    const again: Pending = { ...pending, message: { ...pending.message, args } };
    this.#pending.set(attempt, again);
    return again;
  }

  #onDeath(worker: PoolWorker, reason: string, stoppedAttempt?: Pending): void {
    if (worker.dead) return;
    worker.dead = true;
    const [running, ...waiting] = worker.inflight.splice(0);
    if (running) {
      this.#finish(
        running,
        running === stoppedAttempt
          ? {
              status: "crashed",
              error: new CancelledError(`Task run '${running.attempt.taskRun.name}' was stopped: ${reason}`),
            }
          : {
              status: "crashed",
              error: new CrashedError(`Task run '${running.attempt.taskRun.name}' crashed: ${reason}.`),
            },
      );
    }
    // Attempts it had not started go first again, in their order.
    this.#queue.splice(this.#head, 0, ...waiting.map((pending) => this.#withArguments(pending)));
    const index = this.#workers.indexOf(worker);
    if (index >= 0 && !this.#closed) this.#workers[index] = this.#spawn();
    this.#schedule();
  }
}

/**
 * `pending`, ready to be sent again: arguments moved to a thread (not copied) are gone from
 * this one, so they are serialized anew. (Serialized arguments are never empty: an empty
 * buffer is one that moved.)
 */
function argumentsMoved(pending: Pending): boolean {
  return pending.message.argsKey === undefined && pending.message.args.byteLength === 0;
}

function describeCrash(error: Error, memoryMb: number | undefined): string {
  if ((error as NodeJS.ErrnoException).code === "ERR_WORKER_OUT_OF_MEMORY") {
    return `the worker thread ran out of memory${memoryMb === undefined ? "" : ` (its limit is ${memoryMb} MB)`}`;
  }
  return `the worker thread threw an uncaught ${error.name}: ${error.message}`;
}
