import { extname } from "node:path";
import { Worker } from "node:worker_threads";
import { scopeStorage } from "../../context.js";
import { CancelledError, CrashedError, toError } from "../../errors.js";
import { emit, isEnabled, threshold } from "../../logging/config.js";
import { builtInSerializer } from "../../remote/attempt.js";
import type { RunScope } from "../../runs.js";
import { learnErrorClassesOf, warnOfMissingClass } from "../../serialization/errors.js";
import { type Offload, StoredValue } from "../../serialization/stored.js";
import { runPrefix } from "../../storage/keys.js";
import type { AttemptOutcome, TaskAttempt, TaskInvoker } from "../task-runner.js";
import { BOOTSTRAP, tsxApiFor } from "./bootstrap.js";
import type { AttemptMessage, FromWorker, OutcomeMessage, WorkerSetup } from "./protocol.js";
import { transferable } from "./transfer.js";

/**
 * Runs one thread holds at once, by default. Async runs interleave on its event loop; a
 * synchronous one holds the loop until it returns, so runs go to the thread holding fewest.
 */
export const RUNS_PER_THREAD = 100;

/**
 * How long a stopped run that has started may take to end after its thread has aborted its
 * signal, before the thread is stopped under it (with the other runs it holds).
 */
export const STOP_GRACE_MS = 200;

interface Pending {
  readonly message: AttemptMessage;
  readonly attempt: TaskAttempt;
  readonly resolve: (outcome: AttemptOutcome) => void;
  readonly timed: boolean;
  readonly offload: Offload | undefined;
  /** Threads that died holding it before it started: one whose module kills threads as it loads ends Crashed. */
  readonly lostThreads: number;
}

/** Threads an attempt may see die before it starts; the next one that dies ends it Crashed. */
const LOST_THREADS = 2;

interface PoolWorker {
  readonly thread: Worker;
  /** How run events name it: `thread <id>`. */
  readonly label: string;
  /** Sent and not yet answered, by id. */
  readonly inflight: Map<number, Pending>;
  /** Ids among `inflight` whose function was called. */
  readonly started: Set<number>;
  /**
   * Runs stopped (their outcome already given) that the thread still holds, by id, each with
   * the name of its run and, once it has started, the timer that stops the thread if it does
   * not end in time.
   */
  readonly stopping: Map<number, { readonly name: string; timer: NodeJS.Timeout | undefined }>;
  /** Runs a task with a deadline: nothing else is sent to it meanwhile, so its deadline is its own. */
  exclusive: boolean;
  ready: boolean;
  dead: boolean;
  /** Keeps the process alive: while it holds runs, and only then. */
  held: boolean;
}

export interface PoolOptions {
  readonly workers: number;
  readonly memoryMb: number | undefined;
  /** Runs a thread holds at once. @default RUNS_PER_THREAD */
  readonly runsPerThread?: number;
}

// The thread entry is this SDK's own worker module: `.ts` when running from source.
const ENTRY = new URL(`./worker${extname(new URL(import.meta.url).pathname)}`, import.meta.url).href;

/**
 * Worker threads that run task attempts. Attempts queue here in submission order and go to
 * the ready thread holding fewest runs, up to `runsPerThread` each (while threads are still
 * starting, up to its share of the work); a thread runs all it holds at once. A thread that dies fails the runs it had started (Crashed) and is replaced; the runs
 * it had not started go back to the front of the queue.
 */
export class WorkerPool {
  readonly #options: PoolOptions;
  readonly #runsPerThread: number;
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
    this.#runsPerThread = options.runsPerThread ?? RUNS_PER_THREAD;
    // One thread first, the others once it is up: alone, it loads sooner (the first run of a
    // process waits for it), and the others start with the machine's caches warm.
    this.#workers.push(this.#spawn());
  }

  #spawnTheRest(): void {
    if (this.#closed) return;
    while (this.#workers.length < this.#options.workers) this.#workers.push(this.#spawn());
  }

  get size(): number {
    return this.#workers.length;
  }

  /** An invoker that sends attempts to this pool, offloading large payloads to `offload`. */
  invoker(offload: Offload | undefined): TaskInvoker {
    return {
      invoke: (attempt) => this.#invoke(attempt, offload),
      stop: (attempt, reason) => this.#stop(attempt, reason),
    };
  }

  #invoke(attempt: TaskAttempt, offload: Offload | undefined): Promise<AttemptOutcome> {
    return new Promise((resolve) => {
      this.#enqueue(attempt, offload, resolve).catch((error) =>
        resolve({ status: "failed", error: toError(error) }),
      );
    });
  }

  async #enqueue(
    attempt: TaskAttempt,
    offload: Offload | undefined,
    resolve: (outcome: AttemptOutcome) => void,
  ): Promise<void> {
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
      flowRun: { id: attempt.flowRun.id, name: attempt.flowRun.name, flowName: attempt.flowRun.flowName },
      taskRun: {
        id: attempt.taskRun.id,
        name: attempt.taskRun.name,
        attempts: attempt.taskRun.attempts,
        tags: attempt.taskRun.tags,
      },
    };
    const timed = attempt.timeoutMs !== undefined;
    const pending: Pending = { message, attempt, resolve, timed, offload, lostThreads: 0 };
    this.#pending.set(attempt, pending);
    this.#queue.push(pending);
    this.#schedule();
  }

  /** Stops every thread; attempts still queued or running end as crashed. */
  async close(): Promise<void> {
    this.#closed = true;
    const left = [
      ...this.#queue.slice(this.#head),
      ...this.#workers.flatMap((w) => [...w.inflight.values()]),
    ];
    this.#queue = [];
    this.#head = 0;
    for (const pending of left) {
      this.#finish(pending, { status: "crashed", error: new CrashedError("The thread pool was shut down.") });
    }
    const workers = this.#workers.splice(0);
    for (const worker of workers) {
      worker.dead = true;
      for (const stopping of worker.stopping.values()) clearTimeout(stopping.timer);
    }
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
    const share = this.#share();
    while (this.#head < this.#queue.length) {
      const next = this.#queue[this.#head] as Pending;
      const worker = this.#leastBusyTaking(next, share);
      if (!worker) break;
      this.#head += 1;
      worker.inflight.set(next.message.id, next);
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
    for (const worker of this.#workers) this.#hold(worker);
  };

  /**
   * The ready thread holding fewest runs that may take `next`. A run with a deadline goes only
   * to a thread holding nothing, and has it to itself: stopping it at its deadline then stops no
   * other run, and no other run's synchronous code eats into its time.
   */
  #leastBusyTaking(next: Pending, share: number): PoolWorker | undefined {
    let best: PoolWorker | undefined;
    let bestLoad = Number.POSITIVE_INFINITY;
    for (const worker of this.#workers) {
      // A thread still holding a stopped run may yet be stopped under it: it takes nothing new.
      if (worker.dead || !worker.ready || worker.exclusive || worker.stopping.size > 0) continue;
      const load = worker.inflight.size;
      if (load >= share || (next.timed && load > 0)) continue;
      if (load < bestLoad) {
        best = worker;
        bestLoad = load;
      }
    }
    return best;
  }

  /**
   * Runs a ready thread may hold now: `runsPerThread`, or while threads are still starting, its
   * share of the work (so CPU-bound runs wait for a thread of their own rather than queue on the
   * first one up).
   */
  #share(): number {
    const starting = this.#options.workers - this.#workers.filter((w) => w.ready && !w.dead).length;
    if (starting === 0) return this.#runsPerThread;
    let held = this.#queue.length - this.#head;
    for (const worker of this.#workers) held += worker.inflight.size;
    return Math.min(this.#runsPerThread, Math.ceil(held / this.#options.workers));
  }

  #spawn(): PoolWorker {
    const setup: WorkerSetup = { entry: ENTRY, tsx: tsxApiFor(ENTRY), logThreshold: threshold() };
    const memoryMb = this.#options.memoryMb;
    const thread = new Worker(BOOTSTRAP, {
      eval: true,
      workerData: setup,
      resourceLimits: memoryMb === undefined ? undefined : { maxOldGenerationSizeMb: memoryMb },
    });
    const label = `thread ${thread.threadId}`;
    const worker: PoolWorker = {
      thread,
      label,
      inflight: new Map(),
      started: new Set(),
      stopping: new Map(),
      exclusive: false,
      ready: false,
      dead: false,
      held: true,
    };
    thread.on("message", (message: FromWorker) => this.#onMessage(worker, message));
    thread.on("error", (error) => this.#onDeath(worker, describeCrash(error, memoryMb)));
    thread.on("exit", (code) => this.#onDeath(worker, `the worker thread exited with code ${code}`));
    this.#hold(worker); // after the listeners, which would keep it referenced
    return worker;
  }

  /** A thread holding runs keeps the process alive, as any pending work does; an idle one never does. */
  #hold(worker: PoolWorker): void {
    const queued = this.#head < this.#queue.length; // runs wait for a thread still starting
    const held = queued || worker.inflight.size + worker.stopping.size > 0;
    if (held === worker.held || worker.dead) return;
    worker.held = held;
    if (held) worker.thread.ref();
    else worker.thread.unref();
  }

  #onMessage(worker: PoolWorker, message: FromWorker): void {
    switch (message.type) {
      case "ready":
        worker.ready = true;
        this.#spawnTheRest();
        this.#schedule();
        return;
      case "outcomes":
        for (const outcome of message.outcomes) this.#onOutcome(worker, outcome);
        this.#hold(worker);
        this.#schedule();
        return;
      case "started": {
        const pending = worker.inflight.get(message.id);
        if (pending) {
          worker.started.add(message.id);
          pending.attempt.started();
        } else {
          // A run stopped while its thread was busy started before the thread saw the stop.
          const stopping = worker.stopping.get(message.id);
          if (stopping && !stopping.timer) stopping.timer = this.#graceTimer(worker, message.id);
        }
        return;
      }
      case "log":
        if (isEnabled(message.record.level)) emit(message.record);
        return;
      case "print": {
        const stream = message.stream === "stdout" ? process.stdout : process.stderr;
        const pending = message.id === undefined ? undefined : worker.inflight.get(message.id);
        const running = pending?.attempt.taskRun as unknown as RunScope | undefined;
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
    const stopping = worker.stopping.get(outcome.id);
    if (stopping) {
      // A stopped run ended in time: nothing else on its thread is touched.
      clearTimeout(stopping.timer);
      worker.stopping.delete(outcome.id);
      return;
    }
    const pending = worker.inflight.get(outcome.id);
    if (!pending) return;
    worker.inflight.delete(outcome.id);
    worker.started.delete(outcome.id);
    if (pending.timed) worker.exclusive = false;
    if (outcome.status === "dropped") return; // only a stopped run is dropped, and it was answered
    const ran = { worker: worker.label, startedAt: outcome.startedAt, endedAt: outcome.endedAt };
    const finish = (ended: AttemptOutcome) => this.#finish(pending, { ...ended, ran });
    const { task } = pending.attempt;
    const serializer =
      outcome.serializer === pending.attempt.serializer.name
        ? pending.attempt.serializer
        : (builtInSerializer(outcome.serializer) ?? pending.attempt.serializer);
    const offload = pending.offload;
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
        if (outcome.status === "completed") {
          finish({ status: "completed", value });
          return;
        }
        const run = pending.attempt.taskRun as unknown as RunScope;
        warnOfMissingClass(value, task.module, (hint) => run.logger.warn(hint));
        finish({ status: "failed", error: value as Error });
      } catch (error) {
        finish({ status: "failed", error: toError(error) });
      }
    };
    // Error classes the task's module exports come back as themselves: decoded once they are known.
    if (outcome.status === "completed") decode();
    else void learnErrorClassesOf(task.module as string).then(decode);
  }

  /**
   * A deadline or a cancellation: drop a queued attempt; one sent to a thread ends now (its
   * outcome is the reason), and the thread is told to stop it. A run that had not started never
   * does; a started one sees its signal aborted, and if it has not ended `STOP_GRACE_MS` after
   * it started, its thread is stopped under it, with the other runs it holds.
   */
  #stop(attempt: TaskAttempt, reason: Error): void {
    const pending = this.#pending.get(attempt);
    if (!pending) return;
    const queued = this.#queue.indexOf(pending, this.#head);
    if (queued >= 0) {
      this.#queue.splice(queued, 1);
      this.#finish(pending, { status: "crashed", error: reason });
      return;
    }
    const id = pending.message.id;
    const worker = this.#workers.find((w) => w.inflight.get(id) === pending);
    if (!worker) return;
    const started = worker.started.has(id);
    worker.inflight.delete(id);
    worker.started.delete(id);
    if (pending.timed) worker.exclusive = false;
    const name = pending.attempt.taskRun.name;
    worker.stopping.set(id, { name, timer: started ? this.#graceTimer(worker, id) : undefined });
    worker.thread.postMessage({ type: "stop", ids: [id], reason: reason.message });
    this.#finish(
      pending,
      started
        ? {
            status: "crashed",
            error: new CancelledError(`Task run '${name}' was stopped: ${reason.message}`),
          }
        : { status: "crashed", error: reason },
    );
    this.#schedule();
  }

  #graceTimer(worker: PoolWorker, id: number): NodeJS.Timeout {
    const timer = setTimeout(() => {
      const stopping = worker.stopping.get(id);
      if (!stopping || worker.dead) return;
      this.#onDeath(
        worker,
        `its thread was stopped to end task run '${stopping.name}', which was cancelled or timed out and did not stop within ${STOP_GRACE_MS} ms`,
      );
      void worker.thread.terminate();
    }, STOP_GRACE_MS);
    timer.unref();
    return timer;
  }

  /** `pending`, to queue again after its thread died: arguments moved to that thread are serialized anew. */
  #again(pending: Pending): Pending {
    const { attempt } = pending;
    const again: Pending = argumentsMoved(pending)
      ? {
          ...pending,
          message: { ...pending.message, args: attempt.serializer.serialize(attempt.args, "args") },
        }
      : pending;
    this.#pending.set(attempt, again);
    return again;
  }

  /**
   * The thread is gone: the runs it had started end Crashed, saying why (`stopped`: the pool
   * stopped it for another run that would not stop); those it had not started go first again.
   */
  #onDeath(worker: PoolWorker, reason: string): void {
    if (worker.dead) return;
    worker.dead = true;
    for (const stopping of worker.stopping.values()) clearTimeout(stopping.timer);
    worker.stopping.clear();
    const waiting: Pending[] = [];
    for (const [id, pending] of worker.inflight) {
      if (!worker.started.has(id) && pending.lostThreads < LOST_THREADS) {
        waiting.push({ ...pending, lostThreads: pending.lostThreads + 1 });
        continue;
      }
      const name = pending.attempt.taskRun.name;
      this.#finish(pending, {
        status: "crashed",
        error: new CrashedError(`Task run '${name}' crashed: ${reason}.`),
      });
    }
    worker.inflight.clear();
    worker.started.clear();
    // Attempts it had not started go first again, in their order.
    this.#queue.splice(this.#head, 0, ...waiting.map((pending) => this.#again(pending)));
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
