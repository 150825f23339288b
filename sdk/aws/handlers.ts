import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { BUNDLED_MODULES_VARIABLE, parseBundledModules } from "../bundle-identity.js";
import { enterWorkerMode } from "../context.js";
import { InvalidArgumentError } from "../errors.js";
import { checkTagLimits } from "../runners/tag-slots.js";
import { registerErrorClassesOf } from "../serialization/errors.js";
import { addressFromEnv, clientsFor } from "./address.js";
import { type CoordinatorEvent, createCoordinator, type SweepEvent } from "./coordinator/coordinator.js";
import { flowsCodeIdentity } from "./flow-runner/code-identity.js";
import type { Durability } from "./flow-runner/durability.js";
import { type FlowRunnerResult, type InvocationContext, runFlow } from "./flow-runner/flow-runner.js";
import { SqsQueue } from "./queue.js";
import { InvocationRetries } from "./retry.js";
import { S3ResultStore } from "./s3-store.js";
import { RunKeys } from "./wire/run-key.js";
import { type LeaseBucket, TagLeases } from "./worker/tag-leases.js";
import { type BatchResponse, createTaskWorker, type SqsEvent } from "./worker/task-worker.js";
import { WORKER_ID } from "./worker/worker-id.js";

export { BUNDLED_MODULES_VARIABLE };

/** A worker without a bundle imports task modules only from this folder's source files. */
export const PROJECT_ROOT_VARIABLE = "SQUALL_PROJECT_ROOT";

/** Set (to `1`) by the local environment: its workers reload task modules changed since they loaded them. */
export const RELOAD_MODULES_VARIABLE = "SQUALL_RELOAD_MODULES";

export interface WorkerHandlerOptions {
  /** @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Loads the flows module a bundle carries, e.g. `() => import("../src/flows.js")`. It is
   * started, not awaited: a module that calls a flow at top level never finishes loading in a
   * worker, but its tasks are defined, and found by name, as it loads.
   */
  readonly flows?: () => Promise<unknown>;
}

/** The worker's variable: times a run may die with its worker, started alone, before it ends Crashed. */
export const MAX_DEATHS_VARIABLE = "SQUALL_MAX_DEATHS";

/** The worker's variable holding the concurrency limits by tag, as JSON (`{"db":5}`). */
export const TAG_LIMITS_VARIABLE = "SQUALL_TAG_LIMITS";

/**
 * The worker's variable: how long a lease on a tag's slot holds before another worker may take
 * it over (the worker function's timeout plus a margin: no run outlives its invocation).
 */
export const TAG_LEASE_SECONDS_VARIABLE = "SQUALL_TAG_LEASE_SECONDS";

/** The worker's leases for the limits its environment sets, if any. */
function tagLeasesOf(env: NodeJS.ProcessEnv, bucket: LeaseBucket): TagLeases | undefined {
  const text = env[TAG_LIMITS_VARIABLE];
  if (!text) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new InvalidArgumentError(`Expected ${TAG_LIMITS_VARIABLE} to be JSON, got \`${text}\``);
  }
  const limits = checkTagLimits(parsed, TAG_LIMITS_VARIABLE);
  if (!limits || Object.keys(limits).length === 0) return undefined;
  const leaseSeconds = Number(env[TAG_LEASE_SECONDS_VARIABLE] ?? 930) || 930;
  return new TagLeases({ bucket, limits, leaseSeconds, holder: WORKER_ID });
}

/**
 * The coordinator's variable naming the task dead-letter queues (the default pool's and each
 * worker pool's, comma-separated): their records become Crashed outcomes.
 */
export const DEAD_LETTER_ARN_VARIABLE = "SQUALL_DEAD_LETTER_QUEUE_ARN";

/**
 * The worker function's handler, configured from `SQUALL_*` environment variables on its first
 * invocation. Importing a flows module here never runs its flows: top-level flow calls wait
 * forever in a worker, while its tasks are defined and found by name.
 *
 * @example
 * // functions/worker.ts
 * export const handler = workerHandler();
 */
export function workerHandler(
  options: WorkerHandlerOptions = {},
): (event: SqsEvent, context?: InvocationContext) => Promise<BatchResponse> {
  const env = options.env ?? process.env;
  enterWorkerMode();
  options.flows?.().catch((error) => {
    process.stderr.write(`squall worker: the flows module failed to load: ${(error as Error).stack}\n`);
  });
  let worker: ReturnType<typeof createTaskWorker> | undefined;
  const retries = new InvocationRetries();
  return (event, context) => {
    retries.invocationEnds(invocationEnd(context));
    worker ??= (() => {
      const { address, s3, sqs } = connect(env, "worker", retries);
      const store = new S3ResultStore({ bucket: address.bucket, client: s3 });
      return createTaskWorker({
        tasks: new SqsQueue({ url: address.taskQueueUrl, client: sqs }),
        completions: new SqsQueue({ url: address.completionQueueUrl, client: sqs }),
        store,
        tagLeases: tagLeasesOf(env, store),
        bundled: bundledModules(env),
        projectRoot: env[PROJECT_ROOT_VARIABLE] || undefined,
        reloadModules: env[RELOAD_MODULES_VARIABLE] === "1",
        maxDeaths: Number(env[MAX_DEATHS_VARIABLE] ?? 3) || 3,
      });
    })();
    return worker.handle(event, context);
  };
}

/** The coordinator's variable: seconds after its flow returned that a run's missing outcomes are swept as Crashed. */
export const OVERDUE_VARIABLE = "SQUALL_OVERDUE_SECONDS";

/** The variable naming, for a flow-runner not bundled with its flows, the flows module to load. */
export const FLOWS_VARIABLE = "SQUALL_FLOWS";

/** The flow queue's URL: a flow-runner given it makes its runs durable (handed on, resumed). */
export const FLOW_QUEUE_VARIABLE = "SQUALL_FLOW_QUEUE_URL";

/**
 * The flow-runner function's handler: `{ "flow": "<name>", "parameters": [...] }` starts that
 * flow, whose tasks go to the worker fleet (its LambdaTaskRunner reads the stack's address
 * from the `SQUALL_*` variables); a synchronous invocation answers with the flow run's id and
 * result, or fails with its error.
 *
 * @example
 * // functions/flow-runner.ts, bundled with the flows module
 * export const handler = flowRunnerHandler({ flows: () => import("../src/flows.js") });
 */
export function flowRunnerHandler(
  options: WorkerHandlerOptions = {},
): (
  event: unknown,
  context?: InvocationContext,
) => Promise<FlowRunnerResult | { batchItemFailures: { itemIdentifier: string }[] }> {
  const env = options.env ?? process.env;
  enterWorkerMode(); // the flows module's own top-level flow calls are not this function's to run
  const flows =
    options.flows ??
    (env[FLOWS_VARIABLE] ? () => import(moduleUrl(env[FLOWS_VARIABLE] as string)) : undefined);
  // Errors of the classes it exports come back from the workers as themselves (a bundle has no
  // task module file to learn them from). A module that awaits a flow at top level never settles.
  flows?.().then(
    (exports) => {
      if (typeof exports === "object" && exports !== null)
        registerErrorClassesOf(exports as Record<string, unknown>);
    },
    (error) => {
      process.stderr.write(
        `squall flow-runner: the flows module failed to load: ${(error as Error).stack}\n`,
      );
    },
  );
  // The bucket, for a result too large to answer, opened the first time one is.
  let store: S3ResultStore | undefined;
  const resultStore = () => {
    store ??= (() => {
      const { address, s3 } = connect(env, "flow-runner");
      return new S3ResultStore({ bucket: address.bucket, client: s3 });
    })();
    return store;
  };
  // With a flow queue, runs are durable: handed on near the invocation's end, resumed by replay.
  let durability: Durability | undefined;
  const durable = () => {
    const flowQueueUrl = env[FLOW_QUEUE_VARIABLE];
    if (!flowQueueUrl) return undefined;
    durability ??= (() => {
      const { address, sqs } = connect(env, "flow-runner");
      const store = resultStore();
      return {
        store,
        flowQueue: new SqsQueue({ url: flowQueueUrl, client: sqs }),
        completions: new SqsQueue({ url: address.completionQueueUrl, client: sqs }),
        keys: new RunKeys((key) => store.get(key)),
        code: flowsCodeIdentity(env, env[FLOWS_VARIABLE]),
      };
    })();
    return durability;
  };
  return (event, context) => runFlow(event, context, { store: resultStore, durability: durable });
}

function moduleUrl(path: string): string {
  return /^[a-z]+:/i.test(path) ? path : pathToFileURL(resolve(path)).href;
}

/**
 * The coordinator function's handler, configured like the worker's, plus
 * `SQUALL_DEAD_LETTER_QUEUE_ARN` for the task dead-letter queue it also consumes and
 * `SQUALL_OVERDUE_SECONDS` for its sweep: the scheduled event `{ "squall": "sweep" }` marks
 * Crashed the runs with no outcome that long after their flow returned, and ends those whose
 * caller went silent (`SQUALL_CALLER_SILENCE_SECONDS` for a caller that wrote no heartbeat).
 *
 * @example
 * // functions/coordinator.ts
 * export const handler = coordinatorHandler();
 */
export function coordinatorHandler(
  env: NodeJS.ProcessEnv = process.env,
): (event: CoordinatorEvent | SweepEvent, context?: InvocationContext) => Promise<BatchResponse> {
  let coordinator: ReturnType<typeof createCoordinator> | undefined;
  const retries = new InvocationRetries();
  return (event, context) => {
    retries.invocationEnds(invocationEnd(context));
    coordinator ??= (() => {
      const { address, s3, sqs } = connect(env, "coordinator", retries);
      return createCoordinator({
        store: new S3ResultStore({ bucket: address.bucket, client: s3 }),
        deadLetterQueueArn: (env[DEAD_LETTER_ARN_VARIABLE] || "").split(",").filter(Boolean),
        overdueSeconds: Number(env[OVERDUE_VARIABLE]) || undefined,
        callerSilenceSeconds: address.callerSilenceSeconds,
        ...(env[FLOW_QUEUE_VARIABLE] && {
          flowQueue: new SqsQueue({ url: env[FLOW_QUEUE_VARIABLE] as string, client: sqs }),
        }),
      });
    })();
    return coordinator.handle(event, context);
  };
}

function bundledModules(env: NodeJS.ProcessEnv): Record<string, string> | undefined {
  const text = env[BUNDLED_MODULES_VARIABLE];
  return text ? parseBundledModules(text) : undefined;
}

/** When the invocation ends, by Lambda's context; `undefined` when called without one. */
function invocationEnd(context: InvocationContext | undefined): number | undefined {
  const remaining = context?.getRemainingTimeInMillis?.();
  return remaining === undefined ? undefined : Date.now() + remaining;
}

function connect(env: NodeJS.ProcessEnv, role: string, retryStrategy?: InvocationRetries) {
  const address = addressFromEnv(env);
  if (!address) {
    throw new InvalidArgumentError(
      `The ${role} function needs SQUALL_TASK_QUEUE_URL, SQUALL_COMPLETION_QUEUE_URL and SQUALL_BUCKET in its environment (the stack sets them).`,
    );
  }
  return { address, ...clientsFor(address, { retryStrategy }) };
}
