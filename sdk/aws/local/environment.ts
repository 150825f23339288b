import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { extname, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import { InvalidArgumentError } from "../../errors.js";
import { POOL_NAME } from "../../options.js";
import { checkTagLimits, type TagLimits } from "../../runners/tag-slots.js";
import { BOOTSTRAP, tsxApiFor } from "../../runners/threads/bootstrap.js";
import { ADDRESS_VARIABLES, DEFAULT_POOL, type PoolAddress, type SquallAddress } from "../address.js";
import { type Emulator, startEmulator } from "../emulator.js";
import { FLOW_DEAD_LETTER_ARN_VARIABLE } from "../flow-queue.js";
import {
  DEAD_LETTER_ARN_VARIABLE,
  FLOWS_VARIABLE,
  MAX_DEATHS_VARIABLE,
  PROJECT_ROOT_VARIABLE,
  RELOAD_MODULES_VARIABLE,
  TAG_LEASE_SECONDS_VARIABLE,
  TAG_LIMITS_VARIABLE,
} from "../handlers.js";
import { SqsQueue } from "../queue.js";
import { DEFAULT_SILENT_AFTER_SECONDS } from "../record/heartbeat.js";
import {
  checkSchedules,
  type FlowSchedule,
  listingOf,
  type ScheduleListing,
} from "../schedules/definition.js";
import { LEASE_MARGIN_SECONDS } from "../worker/tag-leases.js";
import type { FaultOptions } from "./faults.js";
import {
  createFlowQueue,
  flowDeadLetterSource,
  flowQueueSources,
  type LocalFlowQueue,
} from "./flow-queue.js";
import type { FromFunctionThread, FunctionThreadSetup } from "./function-thread.js";
import type { InvocationOutcome } from "./invoke-api.js";
import { invokeEvent, startLocalScheduler } from "./scheduler.js";

/**
 * How the local environment is set up. Its defaults are those of the deployed stack, scaled to
 * one machine.
 */
export interface LocalEnvironmentOptions {
  /** Worker function threads, each taking batches from the task queue. @default one per core */
  readonly workers?: number;
  /** The emulator's port on 127.0.0.1. @default a free one */
  readonly port?: number;
  /**
   * Task messages not deleted this long after a worker took them are delivered again. As on the
   * stack (`WorkQueue`), six times the worker's timeout by default, as AWS advises; at least the
   * worker's timeout, which Lambda requires of an event source mapping (one shorter would deliver a
   * message again while its invocation still runs): a shorter one is refused. The coordinator's
   * queues use it too, up to 30 s: the local coordinator has no timeout, and outcomes it failed to
   * record need not wait long to come back. @default 6 × `workerTimeoutSeconds` (360)
   */
  readonly visibilitySeconds?: number;
  /** Deliveries of a task message before it goes to the dead-letter queue (a backstop, as on the stack). @default 10 */
  readonly maxReceiveCount?: number;
  /** Times a run that may kill its worker is started alone and dies with it before it ends Crashed. @default 3 */
  readonly maxDeaths?: number;
  /** Task messages per worker invocation. @default 10 */
  readonly batchSize?: number;
  /**
   * A flows module (a path or file URL) for a flow-runner function, invoked through the
   * emulator's Lambda Invoke API as `flowRunnerFunctionName`. @default no flow-runner
   */
  readonly flows?: string;
  /**
   * How often the coordinator's sweep runs (the stack runs it every 5 minutes): it ends the runs
   * whose caller went silent and those whose last outcomes are overdue, and repairs summaries
   * left behind their segments. @default 60
   */
  readonly sweepSeconds?: number;
  /**
   * How long a caller may go silent before the sweep ends its flow run Crashed: the default of
   * the environment's callers, as the stack's `callerSilence`. @default 180
   */
  readonly callerSilenceSeconds?: number;
  /**
   * How long a flow-runner invocation may run. A flow-queue message stays hidden 30 s longer (as
   * on the stack), and an invocation it started that is still running at the timeout is ended as
   * Lambda ends it: the flow-runner's thread is replaced, ending every invocation it ran, and
   * their messages come back after their visibility timeout. @default 900
   */
  readonly flowRunnerTimeoutSeconds?: number;
  /**
   * Flow-queue messages the flow-runner handles at once (one per invocation), as the stack's
   * `flowRunner: { maxConcurrency }`. Lambda runs each invocation in an environment of its own;
   * here they share the flow-runner's thread with its Invoke API invocations. @default 5
   */
  readonly flowRunnerConcurrency?: number;
  /**
   * Modules (paths or file URLs) whose `handler` export stands in for a function's own
   * (`functions/worker.ts`, `coordinator.ts`, `flow-runner.ts`), fed and invoked as that function
   * is: for tests of the environment itself. @default squall's handlers
   */
  readonly handlers?: {
    readonly worker?: string;
    readonly coordinator?: string;
    readonly flowRunner?: string;
  };
  /**
   * The worker functions' timeout, as the stack's `worker: { timeout }`: a task with a longer
   * `timeoutSeconds` is refused at `.submit()`, here as it would be when deployed. A run with no
   * timeout of its own is cut short of it (the worker stops waiting for it, so the rest of its
   * batch reports), and an invocation still running at it is ended as Lambda ends it: its
   * thread is replaced and its messages come back after their visibility timeout. @default 60
   */
  readonly workerTimeoutSeconds?: number;
  /**
   * The project whose source files the worker functions may import task modules from (outside
   * node_modules); a task message naming any other module is refused. @default process.cwd()
   */
  readonly projectRoot?: string;
  /**
   * Concurrency limits by tag, as the stack's `tagLimits`: held across the worker threads with
   * leases in the bucket (`leases/<tag>/<slot>`), as deployed workers hold them. @default {}
   */
  readonly tagLimits?: TagLimits;
  /**
   * Worker pools besides the default one, as the stack's `pools`: each its own task queue (with a
   * dead-letter queue the coordinator consumes) and its own worker threads with their own
   * timeout, for tasks given `pool: name`. @default none
   */
  readonly pools?: Readonly<Record<string, LocalPoolOptions>>;
  /**
   * Flows started on schedules, as the stack's `schedules`: each enabled one fires at its times
   * (cron in its time zone; a rate every period from the environment's start) by invoking the
   * flow-runner as EventBridge Scheduler does (the Invoke API, InvocationType Event, input
   * `{ flow, parameters, schedule }`), until the environment stops. Needs `flows`. Here a rate
   * may also be in seconds (`rate(2 seconds)`), for tests. @default none
   */
  readonly schedules?: readonly FlowSchedule[];
}

/** A local worker pool. */
export interface LocalPoolOptions {
  /** Worker function threads for the pool. @default 1 */
  readonly workers?: number;
  /** Its worker functions' timeout, as the stack's `pools: { name: { timeout } }`. @default 60 */
  readonly workerTimeoutSeconds?: number;
  /** Task messages per invocation. @default the environment's `batchSize` */
  readonly batchSize?: number;
}

/** A running local environment: its address, its emulator, and how to stop it. */
export interface LocalEnvironment {
  readonly address: SquallAddress & {
    readonly endpoint: string;
    readonly region: string;
    readonly workerTimeoutSeconds: number;
    readonly callerSilenceSeconds: number;
    readonly pools: Readonly<Record<string, PoolAddress & { readonly workerTimeoutSeconds: number }>>;
  };
  readonly deadLetterQueueUrl: string;
  /** The flow-runner's name for Lambda's Invoke API at `address.endpoint`, when `flows` was given. */
  readonly flowRunnerFunctionName: string | undefined;
  /** The schedules it fires (and those it keeps disabled), and when it began: rates count from then. */
  readonly schedules: { readonly listed: readonly ScheduleListing[]; readonly since: number };
  readonly emulator: Emulator;
  /** Answers a share of the emulator's requests with 500/503 (see `Emulator.injectFaults`). */
  injectFaults(options: FaultOptions | undefined): void;
  /** Runs the coordinator's sweep now, as its schedule does; resolves when it has ended. */
  sweep(): Promise<void>;
  /**
   * Ends one execution environment of a function at once, wherever it is, as Lambda ends one
   * that crashes or runs out of memory: what it was doing is lost, the messages it held come
   * back after their visibility timeout, and a new one takes its place. For fault tests.
   * `"flow-runner"` ends the flow-runner's one thread: every invocation it runs (flow-queue
   * messages and Invoke API calls alike) ends with no further code run. Returns false when the
   * function has none running.
   */
  kill(fn: LocalFunctionName): boolean;
  /**
   * The execution environments a pool's worker threads have been (`default` for the default
   * pool), replaced ones included, in the order they started: their log stream names, which the
   * record's outcomes carry as `worker`. Tells which pool ran a task run.
   */
  workers(pool?: string): readonly string[];
  /** Stops the function threads and the emulator; everything the environment held is gone. */
  stop(): Promise<void>;
}

/** The local environment's functions, as `kill()` names them. */
export type LocalFunctionName = "worker" | "coordinator" | "flow-runner";

// The handlers Lambda calls, run here in threads: `.ts` when the SDK runs from source.
const EXT = extname(new URL(import.meta.url).pathname);
const WORKER_HANDLER = new URL(`../../../functions/worker${EXT}`, import.meta.url).href;
const COORDINATOR_HANDLER = new URL(`../../../functions/coordinator${EXT}`, import.meta.url).href;
const FLOW_RUNNER_HANDLER = new URL(`../../../functions/flow-runner${EXT}`, import.meta.url).href;
const THREAD_ENTRY = new URL(`./function-thread${EXT}`, import.meta.url).href;

/**
 * Starts squall's whole AWS side inside this process, as `LocalCluster` does for Dask: the
 * embedded emulator on 127.0.0.1, a bucket, the task queue (with its dead-letter queue) and the
 * completion queue, worker threads running `functions/worker.ts` and a thread running
 * `functions/coordinator.ts`, each fed by an emulated event source mapping.
 *
 * @example
 * const local = await startLocalEnvironment();
 * const runner = new LambdaTaskRunner(local.address);
 * // ...
 * await local.stop();
 */
export async function startLocalEnvironment(
  options: LocalEnvironmentOptions = {},
): Promise<LocalEnvironment> {
  const workers = integerOption("workers", options.workers ?? availableParallelism(), 1);
  const maxReceiveCount = integerOption("maxReceiveCount", options.maxReceiveCount ?? 10, 1);
  const maxDeaths = integerOption("maxDeaths", options.maxDeaths ?? 3, 1);
  const batchSize = integerOption("batchSize", options.batchSize ?? 10, 1);
  const workerTimeoutSeconds = integerOption("workerTimeoutSeconds", options.workerTimeoutSeconds ?? 60, 1);
  const sweepSeconds = integerOption("sweepSeconds", options.sweepSeconds ?? 60, 1);
  const callerSilenceSeconds = integerOption(
    "callerSilenceSeconds",
    options.callerSilenceSeconds ?? DEFAULT_SILENT_AFTER_SECONDS,
    1,
  );
  const flowRunnerTimeoutSeconds = integerOption(
    "flowRunnerTimeoutSeconds",
    options.flowRunnerTimeoutSeconds ?? 900,
    1,
  );
  const flowRunnerConcurrency = integerOption("flowRunnerConcurrency", options.flowRunnerConcurrency ?? 5, 1);
  const handlers = handlerModules(options.handlers);
  const visibilitySeconds = taskVisibility(options.visibilitySeconds, workerTimeoutSeconds);
  const coordinatorVisibilitySeconds = Math.min(visibilitySeconds, COORDINATOR_VISIBILITY_SECONDS);
  if (options.flows !== undefined) checkFlowsModule(options.flows);
  const projectRoot = checkProjectRoot(options.projectRoot ?? process.cwd());
  const tagLimits = checkTagLimits(options.tagLimits) ?? {};
  if (batchSize > 10) {
    throw new InvalidArgumentError(`Expected \`batchSize\` to be at most 10, got \`${batchSize}\``);
  }
  const poolSettings = localPools(options.pools, batchSize, options.visibilitySeconds);
  const schedules = checkSchedules(options.schedules, { allowSeconds: true });
  if (schedules.length > 0 && options.flows === undefined) {
    throw new InvalidArgumentError(
      "Expected `flows` with `schedules`: schedules start flows through the flow-runner, which runs the flows module `flows` names.",
    );
  }

  const emulator = await startEmulator({ port: options.port });
  const threads = new Set<FunctionThread>();
  let stopping = false;
  try {
    const id = randomUUID().slice(0, 8);
    const bucket = `squall-${id}`;
    await emulator.createBucket(bucket);
    const deadLetterQueueUrl = await emulator.createQueue(`squall-tasks-dlq-${id}`);
    const taskQueueUrl = await emulator.createQueue(`squall-tasks-${id}`, {
      visibilityTimeoutSeconds: visibilitySeconds,
      deadLetterUrl: deadLetterQueueUrl,
      maxReceiveCount,
    });
    const completionQueueUrl = await emulator.createQueue(`squall-completions-${id}`);
    const sqs = emulator.sqsClient();
    const arnOf = async (url: string) => {
      const answer = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["QueueArn"] }),
      );
      return answer.Attributes?.QueueArn ?? url;
    };
    const [taskArn, completionArn, deadLetterArn] = await Promise.all(
      [taskQueueUrl, completionQueueUrl, deadLetterQueueUrl].map(arnOf),
    );
    const pools = await Promise.all(
      poolSettings.map(async (pool) => {
        const poolDeadLetterUrl = await emulator.createQueue(`squall-${pool.name}-dlq-${id}`);
        const queueUrl = await emulator.createQueue(`squall-${pool.name}-${id}`, {
          visibilityTimeoutSeconds: pool.visibilitySeconds,
          deadLetterUrl: poolDeadLetterUrl,
          maxReceiveCount,
        });
        const [queueArn, deadLetterArn] = await Promise.all([queueUrl, poolDeadLetterUrl].map(arnOf));
        return {
          ...pool,
          queueUrl,
          queueArn: queueArn as string,
          deadLetterUrl: poolDeadLetterUrl,
          deadLetterArn: deadLetterArn as string,
        };
      }),
    );
    // The flow queue starts and resumes durable flow runs: only where a flow-runner takes them.
    const flowQueue: LocalFlowQueue | undefined =
      options.flows === undefined
        ? undefined
        : await createFlowQueue(emulator, id, flowRunnerTimeoutSeconds, arnOf);
    const poolAddresses = Object.fromEntries(
      pools.map((pool) => [
        pool.name,
        { taskQueueUrl: pool.queueUrl, workerTimeoutSeconds: pool.workerTimeoutSeconds },
      ]),
    );
    const address = {
      region: emulator.region,
      endpoint: emulator.endpoint,
      taskQueueUrl,
      completionQueueUrl,
      bucket,
      workerTimeoutSeconds,
      callerSilenceSeconds,
      pools: poolAddresses,
      ...(flowQueue && { flowQueueUrl: flowQueue.queueUrl }),
    };
    const env: Record<string, string> = {
      // The emulator takes any credentials; the functions need some to sign with.
      AWS_ACCESS_KEY_ID: emulator.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: emulator.credentials.secretAccessKey,
      ...(process.env as Record<string, string>),
      AWS_REGION: emulator.region,
      [ADDRESS_VARIABLES.region]: address.region,
      [ADDRESS_VARIABLES.endpoint]: address.endpoint,
      [ADDRESS_VARIABLES.taskQueueUrl]: taskQueueUrl,
      [ADDRESS_VARIABLES.completionQueueUrl]: completionQueueUrl,
      [ADDRESS_VARIABLES.bucket]: bucket,
      [ADDRESS_VARIABLES.workerTimeoutSeconds]: String(workerTimeoutSeconds),
      [ADDRESS_VARIABLES.callerSilenceSeconds]: String(callerSilenceSeconds),
      [ADDRESS_VARIABLES.pools]: JSON.stringify(poolAddresses),
      [DEAD_LETTER_ARN_VARIABLE]: [deadLetterArn, ...pools.map((pool) => pool.deadLetterArn)].join(","),
      [MAX_DEATHS_VARIABLE]: String(maxDeaths),
      ...(Object.keys(tagLimits).length > 0 && {
        [TAG_LIMITS_VARIABLE]: JSON.stringify(tagLimits),
        // Every pool's workers share the leases: one lives as long as the longest invocation.
        [TAG_LEASE_SECONDS_VARIABLE]: String(
          Math.max(workerTimeoutSeconds, ...pools.map((pool) => pool.workerTimeoutSeconds)) +
            LEASE_MARGIN_SECONDS,
        ),
      }),
      [PROJECT_ROOT_VARIABLE]: projectRoot,
      // Workers live on while the project's files change: a changed task module is reloaded.
      [RELOAD_MODULES_VARIABLE]: "1",
      ...(flowQueue && {
        [ADDRESS_VARIABLES.flowQueueUrl]: flowQueue.queueUrl,
        [FLOW_DEAD_LETTER_ARN_VARIABLE]: flowQueue.deadLetterArn,
      }),
    };
    // A message held by a thread that died comes back at once rather than after its visibility timeout.
    const queues = new Map([
      [taskQueueUrl, new SqsQueue({ url: taskQueueUrl, client: sqs })],
      [completionQueueUrl, new SqsQueue({ url: completionQueueUrl, client: sqs })],
      [deadLetterQueueUrl, new SqsQueue({ url: deadLetterQueueUrl, client: sqs })],
      ...[
        ...pools,
        ...(flowQueue ? [{ queueUrl: flowQueue.queueUrl, deadLetterUrl: flowQueue.deadLetterUrl }] : []),
      ].flatMap((pool) =>
        [pool.queueUrl, pool.deadLetterUrl].map((url) => [url, new SqsQueue({ url, client: sqs })] as const),
      ),
    ]);
    const spawn = (
      handler: string,
      sources: FunctionThreadSetup["sources"],
      threadEnv = env,
      onSpawned?: (thread: FunctionThread) => void,
      timeoutSeconds?: number,
      fn: LocalFunctionName = "worker",
    ): FunctionThread => {
      const thread = startThread(handler, sources, threadEnv, timeoutSeconds, fn, (held) => {
        threads.delete(thread);
        if (stopping) return;
        for (const [url, handle] of held)
          void queues
            .get(url)
            ?.release(handle)
            .catch(() => {});
        spawn(handler, sources, threadEnv, onSpawned, timeoutSeconds, fn); // as Lambda starts a new instance
      });
      threads.add(thread);
      onSpawned?.(thread);
      return thread;
    };
    const taskSource = {
      queueUrl: taskQueueUrl,
      eventSourceArn: taskArn as string,
      batchSize,
      batchingWindowMs: 0,
      visibilitySeconds,
    };
    const started: FunctionThread[] = [];
    const running = {
      worker: new Set<FunctionThread>(),
      coordinator: undefined as FunctionThread | undefined,
      "flow-runner": undefined as FunctionThread | undefined,
    };
    // Each pool's execution environments by name, for `workers()`: which pool ran a run.
    const streams = new Map<string, string[]>(
      [DEFAULT_POOL, ...pools.map((pool) => pool.name)].map((name) => [name, []]),
    );
    const ofPool = (pool: string) => (thread: FunctionThread) => {
      streams.get(pool)?.push(thread.logStreamName);
    };
    const asWorker = (thread: FunctionThread) => {
      streams.get(DEFAULT_POOL)?.push(thread.logStreamName);
      running.worker.add(thread);
      void thread.exited.then(() => running.worker.delete(thread));
    };
    for (let i = 0; i < workers; i++)
      started.push(spawn(handlers.worker, [taskSource], env, asWorker, workerTimeoutSeconds));
    // Each pool's workers take from its own queue, and send retries and split messages back to it.
    for (const pool of pools) {
      const poolEnv = {
        ...env,
        [ADDRESS_VARIABLES.taskQueueUrl]: pool.queueUrl,
        [ADDRESS_VARIABLES.workerTimeoutSeconds]: String(pool.workerTimeoutSeconds),
      };
      const source = {
        queueUrl: pool.queueUrl,
        eventSourceArn: pool.queueArn,
        batchSize: pool.batchSize,
        batchingWindowMs: 0,
        visibilitySeconds: pool.visibilitySeconds,
      };
      for (let i = 0; i < pool.workers; i++)
        started.push(spawn(handlers.worker, [source], poolEnv, ofPool(pool.name), pool.workerTimeoutSeconds));
    }
    started.push(
      spawn(
        handlers.coordinator,
        [
          {
            queueUrl: completionQueueUrl,
            eventSourceArn: completionArn as string,
            batchSize: 10,
            batchingWindowMs: 20,
            visibilitySeconds: coordinatorVisibilitySeconds,
          },
          ...[
            { queueUrl: deadLetterQueueUrl, eventSourceArn: deadLetterArn as string },
            ...pools.map((pool) => ({ queueUrl: pool.deadLetterUrl, eventSourceArn: pool.deadLetterArn })),
          ].map((queue) => ({
            ...queue,
            batchSize: 10,
            batchingWindowMs: 0,
            visibilitySeconds: coordinatorVisibilitySeconds,
          })),
          ...(flowQueue ? [flowDeadLetterSource(flowQueue, coordinatorVisibilitySeconds)] : []),
        ],
        env,
        (thread) => {
          running.coordinator = thread;
        },
        undefined,
        "coordinator",
      ),
    );
    let flowRunnerFunctionName: string | undefined;
    if (options.flows !== undefined) {
      // The flow-runner, fed by the flow queue and invoked through the emulator's Lambda Invoke API.
      const timeoutMs = flowRunnerTimeoutSeconds * 1000;
      let flowRunner: FunctionThread | undefined;
      started.push(
        spawn(
          handlers.flowRunner,
          flowQueueSources(flowQueue as LocalFlowQueue, flowRunnerConcurrency),
          { ...env, [FLOWS_VARIABLE]: options.flows },
          (thread) => {
            flowRunner = thread;
            running["flow-runner"] = thread;
          },
          flowRunnerTimeoutSeconds,
          "flow-runner",
        ),
      );
      flowRunnerFunctionName = `squall-flow-runner-${id}`;
      emulator.functions.set(flowRunnerFunctionName, async (payload) => {
        for (;;) {
          const thread = flowRunner as FunctionThread;
          await thread.ready;
          const outcome = await thread.invoke(payload, timeoutMs);
          if (outcome !== RELOADING) return outcome;
          await thread.exited; // its replacement, started as it exits, runs the invocation
          if (stopping) {
            return {
              ok: false,
              errorType: "Runtime.ExitError",
              errorMessage: "The local environment stopped before the invocation ran.",
              stackTrace: [],
            };
          }
        }
      });
    }
    await Promise.all(started.map((thread) => thread.ready));

    // The sweep, on a schedule as the stack's rule starts it; one at a time.
    let sweeping: Promise<void> | undefined;
    const sweep = () => {
      sweeping ??= (async () => {
        const thread = running.coordinator as FunctionThread;
        // The coordinator never reloads: it runs every invocation it is given.
        const outcome = await thread.ready.then(
          () => thread.invoke({ squall: "sweep" }, SWEEP_TIMEOUT_MS) as Promise<InvocationOutcome>,
          (error: Error) => ({ ok: false as const, errorMessage: error.message }),
        );
        if (!outcome.ok && !stopping) {
          process.stderr.write(
            `squall local: the sweep failed (${outcome.errorMessage}); the next one tries again.\n`,
          );
        }
      })().finally(() => {
        sweeping = undefined;
      });
      return sweeping;
    };
    const sweeps = setInterval(() => void sweep(), sweepSeconds * 1000).unref();

    // Schedules need `flows` (checked above), so the flow-runner is there when one fires.
    const target = { endpoint: emulator.endpoint, functionName: flowRunnerFunctionName as string };
    const scheduler = startLocalScheduler(schedules, (schedule) => invokeEvent(target, schedule));

    let stopped: Promise<void> | undefined;
    return {
      address,
      deadLetterQueueUrl,
      flowRunnerFunctionName,
      schedules: { listed: schedules.map(listingOf), since: scheduler.since },
      emulator,
      injectFaults: (faults) => emulator.injectFaults(faults),
      sweep,
      kill(fn) {
        if (fn !== "worker" && fn !== "coordinator" && fn !== "flow-runner") {
          throw new InvalidArgumentError(
            `Expected kill() to name the function whose execution environment ends, "worker", "coordinator" or "flow-runner", got \`${String(fn)}\``,
          );
        }
        const thread = fn === "worker" ? [...running.worker][0] : running[fn];
        if (!thread || stopping) return false;
        running.worker.delete(thread);
        thread.kill();
        return true;
      },
      workers(pool = DEFAULT_POOL) {
        const names = streams.get(pool);
        if (!names) {
          throw new InvalidArgumentError(
            `Expected workers() to name a pool of the environment, ${[...streams.keys()].map((name) => `"${name}"`).join(", ")}, got \`${String(pool)}\``,
          );
        }
        return [...names];
      },
      stop() {
        stopped ??= (async () => {
          stopping = true;
          scheduler.stop();
          clearInterval(sweeps);
          await sweeping?.catch(() => {});
          await Promise.all([...threads].map((thread) => thread.stop()));
          sqs.destroy();
          await emulator.stop();
        })();
        return stopped;
      },
    };
  } catch (error) {
    stopping = true;
    await Promise.all([...threads].map((thread) => thread.stop()));
    await emulator.stop();
    throw error;
  }
}

interface FunctionThread {
  /** The execution environment's log stream name (AWS_LAMBDA_LOG_STREAM_NAME in its thread). */
  readonly logStreamName: string;
  readonly ready: Promise<void>;
  /** Settles when the thread has exited, for whatever reason. */
  readonly exited: Promise<void>;
  /** Ends it at once, as Lambda ends a crashed execution environment: what it held is not released. */
  kill(): void;
  /**
   * Runs one invocation of an invocable thread's handler; `RELOADING` when the thread did not run
   * it because a project file it loaded changed: its replacement is to run it.
   */
  invoke(payload: unknown, timeoutMs: number): Promise<InvocationOutcome | typeof RELOADING>;
  stop(): Promise<void>;
}

/** What a thread that is making way for a fresh one answers an invocation it did not run. */
const RELOADING = Symbol("reloading");

/** How long a stopping thread may finish its invocation before it is terminated. */
const STOP_GRACE_MS = 2_000;
/** A sweep's time limit: the stack's coordinator timeout. */
const SWEEP_TIMEOUT_MS = 60_000;

function startThread(
  handler: string,
  sources: FunctionThreadSetup["sources"],
  env: Record<string, string>,
  timeoutSeconds: number | undefined,
  fn: LocalFunctionName,
  onDeath: (held: [queueUrl: string, handle: string][]) => void,
): FunctionThread {
  const setup: FunctionThreadSetup = {
    entry: THREAD_ENTRY,
    tsx: tsxApiFor(THREAD_ENTRY),
    handler,
    invocable: fn === "flow-runner",
    timeoutSeconds,
    sources,
    // The coordinator imports only squall's own code; the others import the project's modules.
    projectRoot: fn === "coordinator" ? undefined : env[PROJECT_ROOT_VARIABLE],
  };
  // An invocation still running at the function's timeout is ended with its thread, as Lambda
  // ends it; what it held is not released, and comes back after its visibility timeout. So is
  // a thread killed on purpose.
  const cuts = new Map<string, NodeJS.Timeout>(); // first receipt handle of a batch → its cut
  let cutShort = false;
  const cut = () => {
    cutShort = true;
    process.stderr.write(
      fn === "flow-runner"
        ? `squall local: a flow-runner invocation ran past the function's timeout of ${timeoutSeconds} seconds and was ended, as Lambda ends it, with the other invocations its thread ran; their flow-queue messages come back after their visibility timeout.\n`
        : `squall local: a worker invocation ran past the function's timeout of ${timeoutSeconds} seconds and was ended, as Lambda ends it; its messages come back after their visibility timeout. Give its tasks a \`timeoutSeconds\`, or raise \`workerTimeoutSeconds\`.\n`,
    );
    void thread.terminate();
  };
  const invocations = new Map<number, (outcome: InvocationOutcome | typeof RELOADING) => void>();
  let nextInvocation = 0;
  // Each thread is one execution environment, named as Lambda names its log stream.
  const stream = logStreamName();
  const threadEnv = { ...env, AWS_LAMBDA_LOG_STREAM_NAME: stream };
  const thread = new Worker(BOOTSTRAP, { eval: true, workerData: setup, env: threadEnv });
  thread.unref();
  const held = new Map<string, string>(); // receipt handle → queue URL
  let stopping = false;
  let markReady!: () => void;
  let failReady!: (error: Error) => void;
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    failReady = reject;
  });
  ready.catch(() => {}); // a thread replaced before it was ready is awaited by no one
  let markStopped!: () => void;
  const stopped = new Promise<void>((resolve) => {
    markStopped = resolve;
  });
  thread.on("message", (message: FromFunctionThread) => {
    if (message.type === "ready") markReady();
    else if (message.type === "invoked" || message.type === "reloading") {
      invocations.get(message.id)?.(message.type === "invoked" ? message.outcome : RELOADING);
      invocations.delete(message.id);
    } else if (message.type === "stopped") markStopped();
    else if (message.type === "holding") {
      const batch = message.handles[0];
      if (timeoutSeconds !== undefined && batch !== undefined) {
        if (message.holding) cuts.set(batch, setTimeout(cut, timeoutSeconds * 1000).unref());
        else {
          clearTimeout(cuts.get(batch));
          cuts.delete(batch);
        }
      }
      for (const handle of message.handles) {
        if (message.holding) held.set(handle, message.queueUrl);
        else held.delete(handle);
      }
    }
  });
  thread.on("error", (error) => {
    failReady(error);
    if (!stopping) process.stderr.write(`squall local: a function thread died: ${error.message}\n`);
  });
  thread.on("exit", (code) => {
    markStopped();
    for (const timer of cuts.values()) clearTimeout(timer);
    for (const resolve of invocations.values()) {
      resolve({
        ok: false,
        errorType: "Runtime.ExitError",
        errorMessage: `The function exited with code ${code} during the invocation.`,
        stackTrace: [],
      });
    }
    invocations.clear();
    failReady(new Error("The function thread exited before it was ready."));
    if (!stopping) onDeath(cutShort ? [] : [...held].map(([handle, url]) => [url, handle]));
  });
  const exited = new Promise<void>((resolve) => thread.once("exit", () => resolve()));
  return {
    logStreamName: stream,
    ready,
    exited,
    kill() {
      cutShort = true;
      void thread.terminate();
    },
    invoke(payload, timeoutMs) {
      const id = ++nextInvocation;
      return new Promise((resolve) => {
        invocations.set(id, resolve);
        thread.postMessage({ type: "invoke", id, payload, deadline: Date.now() + timeoutMs });
      });
    },
    async stop() {
      stopping = true;
      thread.postMessage({ type: "stop" });
      const grace = new Promise((resolve) => setTimeout(resolve, STOP_GRACE_MS).unref());
      await Promise.race([stopped, grace]);
      await thread.terminate();
    },
  };
}

/** The handler module each function's threads import: squall's own, or a stand-in given by `handlers`. */
function handlerModules(given: LocalEnvironmentOptions["handlers"]) {
  const url = (name: string, module: string | undefined, own: string) => {
    if (module === undefined) return own;
    checkModule(`handlers.${name}`, module, "a module whose `handler` export stands in for the function's");
    return module.startsWith("file:") ? module : pathToFileURL(resolve(module)).href;
  };
  return {
    worker: url("worker", given?.worker, WORKER_HANDLER),
    coordinator: url("coordinator", given?.coordinator, COORDINATOR_HANDLER),
    flowRunner: url("flowRunner", given?.flowRunner, FLOW_RUNNER_HANDLER),
  };
}

/** A module a thread can import: a file URL, or a path to a file that exists. */
function checkModule(option: string, module: unknown, what: string): void {
  if (typeof module !== "string" || module === "") {
    throw new InvalidArgumentError(
      `Expected \`${option}\` to be a module path or file URL, got \`${String(module)}\``,
    );
  }
  const path = module.startsWith("file:") ? fileURLToPath(module) : resolve(module);
  if (!existsSync(path)) {
    throw new InvalidArgumentError(`Expected \`${option}\` to name ${what}, but ${path} does not exist.`);
  }
}

/** The project root as an absolute path; it must be a folder, the workers' only source of task modules. */
function checkProjectRoot(root: unknown): string {
  const path = typeof root === "string" && root !== "" ? resolve(root) : undefined;
  if (!path || !existsSync(path) || !statSync(path).isDirectory()) {
    throw new InvalidArgumentError(
      `Expected \`projectRoot\` to be the folder of the project whose files define your tasks, got \`${String(root)}\`${path ? ", which is not a folder" : ""}.`,
    );
  }
  return path;
}

/** A flows module the flow-runner thread can import: a file URL, or a path to a file that exists. */
function checkFlowsModule(flows: unknown): void {
  if (typeof flows !== "string" || flows === "") {
    throw new InvalidArgumentError(
      `Expected \`flows\` to be a module path or file URL, got \`${String(flows)}\``,
    );
  }
  const path = flows.startsWith("file:") ? fileURLToPath(flows) : resolve(flows);
  if (!existsSync(path)) {
    throw new InvalidArgumentError(
      `Expected \`flows\` to name a flows module, but ${path} does not exist: give the path of the module that defines your flows.`,
    );
  }
}

/** The most the coordinator's queues keep a message hidden here (see `visibilitySeconds`). */
const COORDINATOR_VISIBILITY_SECONDS = 30;
/** The longest visibility timeout SQS allows: 12 hours. */
const SQS_MAX_VISIBILITY_SECONDS = 43_200;

/**
 * The task queue's visibility timeout: by default six times the worker's timeout, as the stack
 * sets it (`cdk/constructs/work-queue.ts`), so a message is not delivered again while its
 * invocation may still run; one shorter than the worker's timeout is refused, as Lambda refuses
 * such an event source mapping.
 */
/** The pools' settings, checked, each with its name. */
function localPools(
  pools: LocalEnvironmentOptions["pools"],
  batchSize: number,
  visibilitySeconds: number | undefined,
) {
  if (pools === undefined) return [];
  if (typeof pools !== "object" || pools === null || Array.isArray(pools)) {
    throw new InvalidArgumentError(
      `Expected \`pools\` to be an object of worker pools by name, got \`${String(pools)}\``,
    );
  }
  return Object.entries(pools).map(([name, pool]) => {
    if (!POOL_NAME.test(name) || name === DEFAULT_POOL) {
      throw new InvalidArgumentError(
        `Expected each of \`pools\` to be named with lowercase letters, digits and \`-\`, starting with a letter, up to 32, and not \`${DEFAULT_POOL}\`, got \`${name}\``,
      );
    }
    const workerTimeoutSeconds = integerOption(
      `pools.${name}.workerTimeoutSeconds`,
      pool?.workerTimeoutSeconds ?? 60,
      1,
    );
    const poolBatchSize = integerOption(`pools.${name}.batchSize`, pool?.batchSize ?? batchSize, 1);
    if (poolBatchSize > 10) {
      throw new InvalidArgumentError(
        `Expected \`pools.${name}.batchSize\` to be at most 10, got \`${poolBatchSize}\``,
      );
    }
    return {
      name,
      workers: integerOption(`pools.${name}.workers`, pool?.workers ?? 1, 1),
      workerTimeoutSeconds,
      batchSize: poolBatchSize,
      visibilitySeconds: taskVisibility(visibilitySeconds, workerTimeoutSeconds),
    };
  });
}

function taskVisibility(given: number | undefined, workerTimeoutSeconds: number): number {
  if (given === undefined) return Math.min(6 * workerTimeoutSeconds, SQS_MAX_VISIBILITY_SECONDS);
  const seconds = integerOption("visibilitySeconds", given, 1);
  if (seconds < workerTimeoutSeconds) {
    throw new InvalidArgumentError(
      `Expected \`visibilitySeconds\` to be at least \`workerTimeoutSeconds\` (${workerTimeoutSeconds}), got \`${seconds}\`: a task message would be delivered again while the invocation running it may still run, and Lambda refuses an event source mapping whose queue hides messages for less than its function's timeout. Raise \`visibilitySeconds\` (the deployed stack uses six times the worker's timeout: ${6 * workerTimeoutSeconds}), lower \`workerTimeoutSeconds\`, or leave \`visibilitySeconds\` out.`,
    );
  }
  return seconds;
}

function integerOption(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw new InvalidArgumentError(
      `Expected \`${name}\` to be an integer >= ${min}, got \`${String(value)}\``,
    );
  }
  return value;
}

/** A name like Lambda's log stream names: `2026/11/27/[$LATEST]` and 32 hex digits. */
function logStreamName(): string {
  const day = new Date().toISOString().slice(0, 10).replaceAll("-", "/");
  return `${day}/[$LATEST]${randomBytes(16).toString("hex")}`;
}
