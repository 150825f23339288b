import { bundleIdentity } from "../../bundle-identity.js";
import { scopeStorage } from "../../context.js";
import {
  CancelledError,
  CrashedError,
  InvalidArgumentError,
  NonDeterministicFlowError,
  toError,
} from "../../errors.js";
import { serialOf } from "../../ids.js";
import { emit, isEnabled } from "../../logging/config.js";
import { emitProgress, progressObserved } from "../../observe.js";
import { builtInSerializer } from "../../remote/attempt.js";
import { retryDelayMs } from "../../retry.js";
import type {
  AttemptOutcome,
  FlowRunEnding,
  RetryPolicy,
  RunnableTaskRun,
  TaskAttempt,
  TaskInvoker,
  TaskRunnerSession,
} from "../../runners/task-runner.js";
import type { FlowRunInfo, RunScope } from "../../runs.js";
import { learnErrorClassesOf, warnOfMissingClass } from "../../serialization/errors.js";
import { defaultSerializer, type Serializer } from "../../serialization/serializer.js";
import { StoredValue } from "../../serialization/stored.js";
import { runPrefix } from "../../storage/keys.js";
import { DEFAULT_POOL } from "../address.js";
import { type DurableRun, durableRunOf } from "../durable/durable-runs.js";
import { SupersededError } from "../durable/journal.js";
import type { SendReport, SqsQueue } from "../queue.js";
import { DEFAULT_SILENT_AFTER_SECONDS } from "../record/heartbeat.js";
import { markRunOpen } from "../record/open-runs.js";
import type { Segment } from "../record/run-log.js";
import { TerminalIds } from "../record/terminal-ids.js";
import type { S3ResultStore } from "../s3-store.js";
import {
  type FlowReturned,
  type Outcome,
  type Payload,
  type TaskRecord,
  WIRE_VERSION,
} from "../wire/messages.js";
import { packCounts, SQS_MAX_BYTES, SQS_MAX_DELAY_SECONDS } from "../wire/pack.js";
import { asPayload, inlineBytes } from "../wire/payload.js";
import { markRunCancelled, newRunKey, storeRunKey } from "../wire/run-key.js";
import { SEAL_BYTES, seal } from "../wire/seal.js";
import { sqsSafeJson } from "../wire/sqs-text.js";
import { isUnder } from "../worker/confinement.js";
import { CancelWatch } from "./cancel-watch.js";
import { type FollowerOptions, RecordFollower } from "./follower.js";
import { CallerHeartbeat } from "./heartbeat.js";
import { inTimeOrder, type LogEntry, type Replay } from "./replay-order.js";
import { reportUnsent, type Unsent, unsentOutcomeMessage } from "./unsent.js";

/** What a session needs of its runner: where to send, where to read. */
export interface Connection {
  readonly tasks: SqsQueue;
  readonly completions: SqsQueue;
  readonly store: S3ResultStore;
  /** The worker function's timeout, where the address says it: no task may have a longer one. */
  readonly workerTimeoutSeconds?: number;
  /** The worker pools besides the default one, by name: their queues and workers' timeouts. */
  readonly pools?: ReadonlyMap<string, PoolConnection>;
}

/** A worker pool's task queue, and its worker function's timeout where the address says it. */
export interface PoolConnection {
  readonly tasks: SqsQueue;
  readonly workerTimeoutSeconds?: number;
}

export interface SessionOptions {
  /** Arguments above this many bytes go to the bucket and travel by key. */
  readonly inlineArgBytes: number;
  /** Task runs packed into one message at most. */
  readonly tasksPerMessage: number;
  /** How long the caller may go without a heartbeat before the coordinator ends its run Crashed. */
  readonly callerSilenceSeconds?: number;
  readonly follow?: FollowerOptions;
}

/** The most a task record may take of a message: the rest is the message's own fields. */
const MAX_RECORD_BYTES = SQS_MAX_BYTES - 4 * 1024;
/** The most a message may take before it is signed. */
const MAX_UNSIGNED_BYTES = SQS_MAX_BYTES - SEAL_BYTES;

interface Waiting {
  readonly attempt: TaskAttempt;
  readonly resolve: (outcome: AttemptOutcome) => void;
  /** The attempt sent from here; the fleet's retries follow it. */
  readonly first: number;
  /** The attempts before the final one whose outcomes the record holds. */
  earlier?: Set<number>;
  /** Earlier attempts' outcomes come ahead of an attempt before them, held until it is replayed. */
  held?: Map<number, Outcome>;
  /** The next attempt whose output to replay: each attempt's, in attempt order, whatever order they come in. */
  replayNext: number;
  /** The run's final outcome, held until the record has each attempt before it. */
  final?: Outcome;
}

/**
 * One flow run on the Lambda runner. Submitted runs are packed into task messages, several
 * runs a message, and sent together once per turn of the event loop. Retries and deadlines
 * live in the worker fleet, so each run waits for one final outcome, which the session reads
 * from the run's record in the bucket: it settles the run's future and replays the run's
 * console output and log lines here, attributed to the run. A run settles once the record holds
 * every attempt's outcome, so a flow that has its results has its whole record too.
 *
 * Before it sends anything, the session writes the flow run's key to the bucket and signs every
 * message with it: workers and the coordinator act only on messages signed with their run's key.
 */
export class LambdaSession implements TaskRunnerSession, TaskInvoker {
  readonly retriesElsewhere = true;
  readonly #flowRun: FlowRunInfo;
  readonly #connection: Connection;
  readonly #options: SessionOptions;
  readonly #release: () => Promise<void>;
  readonly #follower: RecordFollower;
  readonly #waiting = new Map<string, Waiting>();
  /** Records not yet sent, by task run id, with the pool each goes to and its task's name. */
  #outbox = new Map<string, Outgoing>();
  #flushing: Promise<void> | undefined;
  /** Task runs sent (each once), for the flow-returned notice: the record is complete when it has them all. */
  readonly #sent = new TerminalIds();
  #sentCount = 0;
  #cancelMarked: Promise<void> | undefined;
  /** The flow run's signing key, and its writing to the bucket, which comes before any send. */
  readonly #key: Uint8Array;
  /** Set when a flow-runner drives this run durably: what it sent before, and how to go on. */
  readonly #durable: DurableRun | undefined;
  /** A resumed run's outcomes read before the flow submitted their runs again, by task run id. */
  readonly #early = new Map<string, Outcome[]>();
  #keyStored: Promise<void> | undefined;
  /** Tells the coordinator this caller is alive, so that a caller killed mid-flow ends its run. */
  readonly #heartbeat: CallerHeartbeat;
  /** Looks for `squall cancel`'s request, while the run has task runs out. */
  readonly #cancelWatch: CancelWatch;
  /** Outcomes whose lines are to be replayed once the segments read with them are handed on. */
  #replays: Replay<RunScope>[] = [];

  constructor(
    flowRun: FlowRunInfo,
    connection: Connection,
    options: SessionOptions,
    release: () => Promise<void>,
  ) {
    this.#flowRun = flowRun;
    this.#connection = connection;
    this.#options = options;
    this.#release = release;
    this.#durable = durableRunOf(flowRun.id);
    this.#key = this.#durable?.key ?? newRunKey();
    if (this.#durable) {
      // Runs earlier drivers sent count in the flow-returned notice, whether or not this one
      // comes to await them.
      for (const id of this.#durable.journal.ids()) {
        this.#sent.add(id);
        this.#sentCount += 1;
      }
    }
    this.#follower = new RecordFollower(
      connection.store,
      flowRun.id,
      {
        segment: (segment) => this.#onSegment(segment),
        // Every run still waiting ends with the reason, rather than waiting forever.
        denied: (error) => {
          for (const id of [...this.#waiting.keys()]) {
            this.#settle(id, {
              status: "crashed",
              error: new CrashedError(
                `Could not read flow run ${this.#flowRun.id}'s record: ${error.message}`,
                {
                  cause: error,
                },
              ),
            });
          }
        },
      },
      options.follow,
    );
    // Written while the flow gets going, so the first send rarely waits for it; a failure
    // surfaces at that send (or the flow's end), naming the run.
    this.#storeKey().catch(() => {});
    this.#heartbeat = new CallerHeartbeat(connection.store, this.#key, {
      flowRunId: flowRun.id,
      flowName: flowRun.flowName,
      silentAfterSeconds: options.callerSilenceSeconds ?? DEFAULT_SILENT_AFTER_SECONDS,
    });
    this.#cancelWatch = new CancelWatch(
      (key) => connection.store.get(key),
      flowRun.id,
      (requestedAt) => this.#cancelRequested(requestedAt),
    );
    // Handed on, this driver neither reads the record nor beats for the run: the next one does.
    this.#durable?.quiet.push(async () => {
      this.#cancelWatch.stop();
      await this.#heartbeat.stop();
      await this.#follower.stop();
    });
  }

  // ---- TaskRunnerSession ----

  submit(run: RunnableTaskRun): void {
    this.#checkReplay(run);
    this.#checkRetries(run.retryPolicy);
    this.#checkPool(run);
    this.#checkTimeout(run);
    run.checkArguments(); // throws at .submit() for a value that cannot be sent
    run.execute(this);
  }

  async shutdown(ending: FlowRunEnding): Promise<void> {
    const diverged = this.#durable?.diverged;
    try {
      await this.#flushing;
      await this.#cancelMarked;
      // Handed on to the next driver, or taken over: that one ends the run, not this one.
      if (this.#handedOn()) return;
      const returned: FlowReturned = {
        flowRunId: this.#flowRun.id,
        flowName: this.#flowRun.flowName,
        state: (diverged ? "Failed" : ending.state) as FlowReturned["state"],
        message: diverged?.message ?? ending.error?.message,
        tasks: this.#sentCount,
        sent: this.#sent.toJSON(),
        endedAt: Date.now(),
      };
      // The coordinator marks the flow run final in its record once every run sent is.
      const body = sqsSafeJson(JSON.stringify({ v: WIRE_VERSION, flowRunId: this.#flowRun.id, returned }));
      await this.#storeKey()
        .then(() => this.#connection.completions.send([seal(this.#key, "completions", body)]))
        .catch((error) =>
          process.stderr.write(
            `squall: could not record how flow run '${this.#flowRun.name}' ended: ${toError(error).message}\n`,
          ),
        );
    } finally {
      this.#cancelWatch.stop();
      await this.#heartbeat.stop();
      await this.#follower.stop();
      await this.#release();
    }
    // The flow function may have caught the divergence: the run fails with it all the same.
    if (diverged && !ending.error) throw diverged;
  }

  /** Whether this durable run's driving passed to another invocation. */
  #handedOn(): boolean {
    return this.#durable !== undefined && (this.#durable.suspended || this.#durable.journal.superseded);
  }

  // ---- TaskInvoker ----

  invoke(attempt: TaskAttempt): Promise<AttemptOutcome> {
    // From the first task on: a run that sends none has nothing out to end.
    this.#heartbeat.start(this.#storeKey());
    this.#cancelWatch.start();
    return new Promise((resolve) => {
      const id = attempt.taskRun.id;
      const first = attempt.taskRun.attempts;
      this.#waiting.set(id, { attempt, resolve, first, replayNext: first });
      if (this.#sentBefore(id)) {
        // An earlier driver sent it: its outcome is (or will be) in the record; never send it again.
        const early = this.#early.get(id);
        this.#early.delete(id);
        for (const outcome of early ?? []) this.#onOutcome(outcome);
        this.#follower.poke(); // reading the record is how it ends: nothing sent starts it here
        return;
      }
      this.#enqueue(attempt).catch((error) => this.#settle(id, { status: "crashed", error: toError(error) }));
    });
  }

  /**
   * A durable run's sleep: when it ends is recorded at its first run (in the journal, before it
   * begins), so the flow run again waits only what is left; a wait past this invocation's end is
   * the driver's to hand on. Elsewhere, a timer.
   */
  async sleep(callId: string, ms: number): Promise<void> {
    const durable = this.#durable;
    if (!durable) return new Promise((resolve) => setTimeout(resolve, ms));
    const task = durable.journal.sentTask(callId);
    if (task !== undefined) this.#diverge(callId, "a sleep", `task '${task}'`);
    let endsAt = durable.journal.sleepEnd(callId);
    if (endsAt === undefined) {
      endsAt = Date.now() + ms;
      try {
        await durable.journal.appendSleep(callId, endsAt);
      } catch (error) {
        if (error instanceof SupersededError) return new Promise(() => {}); // the next driver goes on
        throw error;
      }
    }
    const left = endsAt - Date.now();
    if (left <= 0) return;
    durable.sleeping?.(endsAt);
    await new Promise((resolve) => setTimeout(resolve, left));
  }

  /** `squall cancel` asked: the flow run is cancelled as if its process were interrupted. */
  #cancelRequested(requestedAt: number | undefined): void {
    const when = requestedAt === undefined ? "" : ` at ${new Date(requestedAt).toISOString()}`;
    const run = this.#flowRun as unknown as { cancel?(reason: unknown): void };
    run.cancel?.(new CancelledError(`cancellation was requested${when} (squall cancel)`));
  }

  /** Whether a driver of this durable run sent the task run of this id before. */
  #sentBefore(id: string): boolean {
    return this.#durable?.journal.sentTask(id) !== undefined;
  }

  /**
   * A durable run's flow function, run again, must submit at each call the task its journal
   * says it did: otherwise what the record holds for that call is another task's.
   */
  #checkReplay(run: RunnableTaskRun): void {
    const durable = this.#durable;
    if (!durable) return;
    const task = run.retryPolicy.taskName;
    const recorded = durable.journal.sentTask(run.id);
    if (recorded !== undefined && recorded !== task)
      this.#diverge(run.id, `task '${task}'`, `task '${recorded}'`);
    if (recorded === undefined && durable.journal.sleepEnd(run.id) !== undefined) {
      this.#diverge(run.id, `task '${task}'`, "a sleep");
    }
  }

  /** The flow, run again, did something else at call `callId` than the record says: the run fails. */
  #diverge(callId: string, did: string, recorded: string): never {
    const serial = serialOf(callId);
    const durable = this.#durable as DurableRun;
    const error = new NonDeterministicFlowError(
      `Flow run '${this.#flowRun.name}' (${this.#flowRun.id}), resumed, did not submit what it submitted before: its call #${serial} is ${did}, where the run's record has ${recorded}. A durable flow must submit the same tasks in the same order each time it runs with the same parameters and results; take times and random numbers from flowRunStartTime() and flowRandom(), and wait with sleep().`,
    );
    durable.diverged ??= error;
    throw error;
  }

  /** The run was cancelled (its flow run was): unsent, it is never sent; sent, workers skip it. */
  stop(attempt: TaskAttempt): void {
    const id = attempt.taskRun.id;
    this.#waiting.delete(id);
    this.#outbox.delete(id);
    if (this.#sent.has(id) && !this.#cancelMarked) {
      // Workers learn it from the run's key object, which they read for each batch anyway.
      this.#cancelMarked = this.#storeKey()
        .then(() => markRunCancelled(this.#connection.store, this.#flowRun.id, this.#key))
        .catch((error) => {
          process.stderr.write(
            `squall: could not mark flow run '${this.#flowRun.name}' cancelled: ${toError(error).message}\n`,
          );
        });
    }
  }

  // ---- sending ----

  async #enqueue(attempt: TaskAttempt): Promise<void> {
    if (!attempt.task.module) {
      const where = bundleIdentity()
        ? " A deployed bundle's tasks must be defined in the project files its deployment lists (SQUALL_BUNDLED_MODULES: the flows module and the project files it imports), not in a package."
        : "";
      throw new CrashedError(
        `Task '${attempt.task.name}' has no module a worker could import it from.${where}`,
      );
    }
    const bytes = attempt.takeArgBytes() ?? attempt.serializer.serialize(attempt.args, "args");
    const stored = async (): Promise<Payload> => {
      const key = `${runPrefix(attempt.flowRun.id)}payloads/${attempt.taskRun.id}-${attempt.taskRun.attempts}`;
      await this.#connection.store.put(key, bytes);
      return { key, size: bytes.byteLength };
    };
    const inline = bytes.byteLength <= this.#options.inlineArgBytes;
    let json = this.#recordJson(attempt, inline ? asPayload(bytes) : await stored());
    // Arguments inline must leave the record room in a message (escaping and base64 make them grow).
    if (inline && Buffer.byteLength(json) > MAX_RECORD_BYTES)
      json = this.#recordJson(attempt, await stored());
    const id = attempt.taskRun.id;
    if (!this.#waiting.has(id)) return; // cancelled meanwhile
    this.#outbox.set(id, { json, pool: attempt.pool ?? DEFAULT_POOL, task: attempt.task.name });
    if (progressObserved()) emitProgress({ kind: "task", id, phase: "queued" });
    // Everything submitted in this turn of the event loop goes out together.
    this.#flushing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#flush());
  }

  /**
   * Writes the run's key and marks the run open, once; every send waits for both, so that the
   * coordinator's sweep can find the run (and end it, should this caller die) from its first
   * message on.
   */
  #storeKey(): Promise<void> {
    const { store } = this.#connection;
    // A durable run's driver wrote both when the run first started.
    if (this.#durable) this.#keyStored ??= Promise.resolve();
    this.#keyStored ??= Promise.all([
      storeRunKey(store, this.#flowRun.id, this.#key),
      markRunOpen(store, this.#flowRun.id),
    ]).then(() => {});
    return this.#keyStored;
  }

  #recordJson(attempt: TaskAttempt, args: Payload): string {
    const record: TaskRecord = {
      taskRunId: attempt.taskRun.id,
      taskRunName: attempt.taskRun.name,
      task: attempt.task.name,
      module: attempt.task.module,
      codeHash: attempt.task.codeHash,
      ...(attempt.verifySource ? {} : { verifySource: false }),
      attempt: attempt.taskRun.attempts,
      serializer: attempt.serializer.name,
      args,
      timeoutMs: attempt.timeoutMs,
      ...(attempt.retryPolicy.retries > 0 && { retry: retryOf(attempt.retryPolicy) }),
      logPrints: attempt.logPrints,
      tags: [...attempt.taskRun.tags],
    };
    return sqsSafeJson(JSON.stringify(record));
  }

  async #flush(): Promise<void> {
    const outbox = this.#outbox;
    this.#outbox = new Map();
    this.#flushing = undefined;
    // Each pool's runs are packed into messages of their own, sent to its queue.
    const byPool = new Map<string, Map<string, string>>();
    for (const [id, { json, pool }] of outbox) {
      const records = byPool.get(pool) ?? new Map<string, string>();
      byPool.set(pool, records.set(id, json));
    }
    if (this.#durable && outbox.size > 0 && !(await this.#journal(outbox))) return;
    await Promise.all([...byPool].map(([pool, records]) => this.#send(records, this.#queueOf(pool))));
  }

  /**
   * A durable run's runs go into its journal before they are sent, so that a driver resuming it
   * awaits them instead of sending them again. A driver whose run was handed on or taken over
   * sends nothing: the runs wait, and the next driver sends them. Returns whether to send.
   */
  async #journal(outbox: ReadonlyMap<string, Outgoing>): Promise<boolean> {
    const durable = this.#durable as DurableRun;
    if (durable.suspended) return false;
    try {
      await durable.journal.append([...outbox].map(([id, { task }]) => ({ id, task })));
      return true;
    } catch (error) {
      if (error instanceof SupersededError) return false;
      for (const id of outbox.keys()) {
        this.#settle(id, {
          status: "crashed",
          error: new CrashedError(
            `Could not record the task run in the flow run's journal: ${toError(error).message}`,
          ),
        });
      }
      return false;
    }
  }

  /** Checked at .submit(): a run reaches here only naming a pool the connection has. */
  #queueOf(pool: string): SqsQueue {
    return this.#connection.pools?.get(pool)?.tasks ?? this.#connection.tasks;
  }

  async #send(outbox: ReadonlyMap<string, string>, queue: SqsQueue): Promise<void> {
    if (outbox.size === 0) return;
    const { flowRun } = this;
    const head = sqsSafeJson(
      `{"v":${WIRE_VERSION},"flowRunId":${JSON.stringify(flowRun.id)},"flowRunName":${JSON.stringify(flowRun.name)},"flowName":${JSON.stringify(flowRun.flowName)},"tasks":[`,
    );
    const ids = [...outbox.keys()];
    const records = [...outbox.values()];
    let counts: number[];
    try {
      counts = packCounts(head, records, "]}", {
        maxRecords: this.#options.tasksPerMessage,
        maxMessageBytes: MAX_UNSIGNED_BYTES,
      });
      await this.#storeKey();
    } catch (error) {
      // Nothing was sent (and without a stored key nothing can be recorded): these runs end here.
      for (const id of ids) {
        this.#settle(id, {
          status: "crashed",
          error: new CrashedError(`Could not send task run to the task queue: ${toError(error).message}`),
        });
      }
      return;
    }
    // Sent from here on: the flow-returned notice counts each, whether it ran or was reported unsent.
    for (const id of ids) {
      this.#sent.add(id);
      this.#sentCount += 1;
    }
    /** The records each body carries, by their place in `records`. */
    const spans: [number, number][] = [];
    const bodies: string[] = [];
    let start = 0;
    for (const count of counts) {
      spans.push([start, start + count]);
      bodies.push(seal(this.#key, "tasks", `${head}${records.slice(start, start + count).join(",")}]}`));
      start += count;
    }
    let refused: SendReport["refused"];
    try {
      ({ refused } = await queue.sendEach(bodies));
    } catch (error) {
      const reason = toError(error).message;
      refused = bodies.map((_, index) => ({ index, reason }));
    }
    this.#follower.poke();
    if (progressObserved()) {
      const unsent = new Set(refused.map(({ index }) => index));
      spans.forEach(([from, to], index) => {
        if (unsent.has(index)) return;
        for (const id of ids.slice(from, to)) {
          if (this.#waiting.has(id)) emitProgress({ kind: "task", id, phase: "sent" });
        }
      });
    }
    // Read back from the records only when a send was refused: nothing per run on the way out.
    // (A run cancelled while its send was out is reported all the same.)
    await this.#reportUnsent(
      refused.flatMap(({ index, reason }) =>
        records.slice(...(spans[index] ?? [0, 0])).map((json): Unsent => {
          const record = JSON.parse(json) as TaskRecord;
          return {
            taskRunId: record.taskRunId,
            taskRunName: record.taskRunName,
            attempt: record.attempt,
            reason,
          };
        }),
      ),
    );
  }

  /**
   * Runs whose message SQS finally refused are reported Crashed through the record, so that
   * the record and this session agree; those whose report is refused too end here at once.
   */
  async #reportUnsent(runs: readonly Unsent[]): Promise<void> {
    if (runs.length === 0) return;
    let unreported: { run: Unsent; reason: string }[];
    try {
      unreported = await reportUnsent(this.#connection.completions, this.#key, this.#flowRun.id, runs);
    } catch (error) {
      unreported = runs.map((run) => ({ run, reason: toError(error).message }));
    }
    for (const { run, reason } of unreported) {
      this.#settle(run.taskRunId, {
        status: "crashed",
        error: new CrashedError(
          `${unsentOutcomeMessage(run)} Its Crashed outcome could not be recorded either (${reason}); the coordinator's sweep records it later.`,
        ),
      });
    }
  }

  get flowRun(): FlowRunInfo {
    return this.#flowRun;
  }

  // ---- receiving ----

  #onSegment(segment: Segment): void {
    for (const outcome of segment.outcomes) this.#onOutcome(outcome);
  }

  #onOutcome(outcome: Outcome): void {
    const waiting = this.#waiting.get(outcome.taskRunId);
    if (!waiting) {
      // A resumed run's flow function has yet to submit this run again: keep it till it does.
      if (this.#durable?.resumed) {
        const early = this.#early.get(outcome.taskRunId) ?? [];
        this.#early.set(outcome.taskRunId, [...early, outcome]);
      }
      return; // otherwise another session's, or one no longer awaited
    }
    // The record's first final outcome of a run is the one that counts; any after it is an
    // earlier attempt's, come late (a worker queues a retry before it reports the attempt).
    if (outcome.status === "retrying" && !waiting.final && progressObserved()) {
      emitProgress({ kind: "task", id: outcome.taskRunId, phase: "retrying", attempt: outcome.attempt });
    }
    if (outcome.status === "retrying" || waiting.final) {
      waiting.earlier ??= new Set();
      waiting.earlier.add(outcome.attempt);
      waiting.held ??= new Map();
      waiting.held.set(outcome.attempt, outcome);
      this.#replayInOrder(waiting);
    } else waiting.final = outcome;
    const final = waiting.final;
    if (!final || !hasEarlier(waiting, final.attempt)) return;
    this.#waiting.delete(outcome.taskRunId);
    this.#replayInOrder(waiting);
    this.#replay(waiting, final);
    void this.#decode(final, waiting.attempt).then(waiting.resolve);
  }

  /** Replays the held attempts that come next, in attempt order, up to the first still missing. */
  #replayInOrder(waiting: Waiting): void {
    for (
      let next = waiting.held?.get(waiting.replayNext);
      next;
      next = waiting.held?.get(waiting.replayNext)
    ) {
      waiting.held?.delete(waiting.replayNext);
      waiting.replayNext += 1;
      this.#replay(waiting, next);
    }
  }

  /**
   * Replays an outcome's console output and log lines here, in the run's scope, so that whoever
   * follows this process's output knows whose they are. The follower hands on every segment of
   * a read before a microtask runs, so the lines of all the outcomes of one read are printed
   * together, in the order of their own times (the runs of a read ran side by side), before the
   * futures they settle resolve; lines of a later read come after.
   */
  #replay(waiting: Waiting, outcome: Outcome): void {
    if (outcome.logs.length === 0) return;
    // Ended before this driver began: an earlier one printed its lines already.
    if (this.#durable?.resumed && outcome.endedAt < this.#durable.since) return;
    if (this.#replays.length === 0) queueMicrotask(() => this.#flushReplays());
    this.#replays.push({ scope: waiting.attempt.taskRun as unknown as RunScope, outcome });
  }

  #flushReplays(): void {
    const replays = this.#replays;
    this.#replays = [];
    for (const { scope, entry } of inTimeOrder(replays)) scopeStorage.run(scope, replayLine, entry);
  }

  async #decode(outcome: Outcome, attempt: TaskAttempt): Promise<AttemptOutcome> {
    const { worker, startedAt, endedAt } = outcome;
    const ran = worker !== undefined && startedAt !== undefined ? { worker, startedAt, endedAt } : undefined;
    const decoded = await this.#decodeResult(outcome, attempt);
    return ran ? { ...decoded, ran } : decoded;
  }

  async #decodeResult(outcome: Outcome, attempt: TaskAttempt): Promise<AttemptOutcome> {
    const attempts = outcome.attempt;
    const payload = outcome.payload;
    try {
      if (outcome.status === "completed") {
        if (payload && "key" in payload) {
          const value = new StoredValue(payload.key, this.#connection.store.locator, payload.size);
          return { status: "completed", value, attempts };
        }
        const serializer = builtInSerializer(outcome.serializer) ?? attempt.serializer;
        return { status: "completed", value: deserialize(payload, serializer), attempts };
      }
      // Error classes the task's module exports come back as themselves.
      await learnErrorClassesOf(attempt.task.module as string);
      const error = await this.#decodeError(payload);
      const run = attempt.taskRun as unknown as RunScope;
      warnOfMissingClass(error, attempt.task.module, (hint) => run.logger.warn(hint));
      const status = outcome.status === "failed" ? "failed" : "crashed";
      return { status, error, attempts };
    } catch (error) {
      return { status: "failed", error: toError(error), attempts };
    }
  }

  /**
   * The error a run raised. One too large for its outcome is read whole from where the worker
   * stored it (`stored`), from this session's bucket and only under the flow run's own prefix, as
   * a worker reads stored arguments; if that fails, the outcome's shortened copy, saying why.
   */
  async #decodeError(payload: Payload | undefined): Promise<Error> {
    const stored = payload && "stored" in payload ? payload.stored : undefined;
    if (!stored) return toError(deserialize(payload, defaultSerializer));
    const prefix = runPrefix(this.#flowRun.id);
    let reason: string;
    if (!isUnder(stored.key, prefix)) {
      reason = `it is not under the flow run's prefix ${prefix}, the only place the caller reads it from`;
    } else {
      try {
        const bytes = await this.#connection.store.get(stored.key);
        if (bytes !== undefined) return toError(defaultSerializer.deserialize(bytes));
        reason = "there is no such object";
      } catch (error) {
        reason = toError(error).message;
      }
    }
    const short = toError(deserialize(payload, defaultSerializer));
    const message = `${short.message} [The whole error could not be read from ${JSON.stringify(stored.key.slice(0, 200))} (${reason}): this is the outcome's copy, cut short.]`;
    short.stack = short.stack?.replace(short.message, message);
    short.message = message;
    return short;
  }

  #settle(id: string, outcome: AttemptOutcome): void {
    const waiting = this.#waiting.get(id);
    if (!waiting) return;
    this.#waiting.delete(id);
    waiting.resolve(outcome);
  }

  /**
   * Lambda ends a worker at its function's timeout: a task given longer would be cut short there
   * and delivered again until dead-lettered, so refuse it now, while the fix is a setting.
   */
  #checkTimeout(run: RunnableTaskRun): void {
    const pool = run.pool ?? DEFAULT_POOL;
    const limit =
      pool === DEFAULT_POOL
        ? this.#connection.workerTimeoutSeconds
        : this.#connection.pools?.get(pool)?.workerTimeoutSeconds;
    if (limit === undefined || run.timeoutMs === undefined || run.timeoutMs <= limit * 1000) return;
    const [whose, setting] =
      pool === DEFAULT_POOL
        ? ["the worker function's", "`worker: { timeout }`"]
        : [`pool '${pool}''s worker function's`, `\`pools: { ${JSON.stringify(pool)}: { timeout } }\``];
    throw new InvalidArgumentError(
      `Task '${run.retryPolicy.taskName}' has a timeout of ${run.timeoutMs / 1000} seconds, longer than ${whose} timeout of ${limit} seconds: Lambda would end the worker before the task's deadline. Raise the worker's timeout in the Squall construct (${setting}), or lower the task's \`timeoutSeconds\`.`,
    );
  }

  /** A run naming a pool the deployment lacks would wait on a queue nobody has: refuse it now. */
  #checkPool(run: RunnableTaskRun): void {
    const pool = run.pool;
    if (pool === undefined || pool === DEFAULT_POOL || this.#connection.pools?.has(pool)) return;
    const has = [DEFAULT_POOL, ...(this.#connection.pools?.keys() ?? [])].map((name) => `'${name}'`);
    throw new InvalidArgumentError(
      `Task '${run.retryPolicy.taskName}' names worker pool '${pool}', which this deployment does not have; it has ${has.join(", ")}. Add the pool to the Squall construct's \`pools\` (or the local environment's), or name one of these.`,
    );
  }

  /** A retry waits in SQS, which holds a message back 15 minutes at most: refuse longer delays now. */
  #checkRetries(policy: RetryPolicy): void {
    const { delays } = retryOf(policy);
    delays.forEach((delay, i) => {
      const seconds = delay * (1 + policy.jitterFactor);
      if (seconds > SQS_MAX_DELAY_SECONDS) {
        throw new InvalidArgumentError(
          `Task '${policy.taskName}' waits up to ${Math.ceil(seconds)} seconds before retry ${i + 1}; on LambdaTaskRunner a retry waits in SQS, at most ${SQS_MAX_DELAY_SECONDS} seconds. Give it shorter \`retryDelaySeconds\`.`,
        );
      }
    });
  }
}

/** A record waiting to be sent. */
interface Outgoing {
  readonly json: string;
  readonly pool: string;
  readonly task: string;
}

/** The policy as a record carries it: each retry's delay worked out here (a function cannot travel). */
function retryOf(policy: RetryPolicy): NonNullable<TaskRecord["retry"]> {
  const delays: number[] = [];
  for (let retry = 1; retry <= policy.retries; retry++)
    delays.push(retryDelayMs(policy.delay, retry, 0) / 1000);
  return { retries: policy.retries, delays, jitter: policy.jitterFactor };
}

/** Whether the record holds each attempt of the run before `attempt`. */
function hasEarlier(waiting: Waiting, attempt: number): boolean {
  for (let earlier = waiting.first; earlier < attempt; earlier++) {
    if (!waiting.earlier?.has(earlier)) return false;
  }
  return true;
}

/** A line of a run's console output or its logs, here, as if the run had run here. */
function replayLine(entry: LogEntry): void {
  if ("stream" in entry) {
    (entry.stream === "stdout" ? process.stdout : process.stderr).write(`${entry.text}\n`);
  } else if (isEnabled(entry.level)) {
    emit(entry);
  }
}

function deserialize(payload: Payload | undefined, serializer: Serializer): unknown {
  if (payload === undefined) return undefined;
  const bytes = inlineBytes(payload);
  if (bytes) return serializer.deserialize(bytes);
  throw new CrashedError(
    `Expected an inline payload, got a reference to \`${(payload as { key: string }).key}\`.`,
  );
}
