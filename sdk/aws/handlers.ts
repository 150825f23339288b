import { enterWorkerMode } from "../context.js";
import { InvalidArgumentError } from "../errors.js";
import { addressFromEnv, clientsFor } from "./address.js";
import { type CoordinatorEvent, createCoordinator } from "./coordinator/coordinator.js";
import { SqsQueue } from "./queue.js";
import { S3ResultStore } from "./s3-store.js";
import { type BatchResponse, createTaskWorker, type SqsEvent } from "./worker/task-worker.js";

/** The coordinator's variable naming the task dead-letter queue: its records become Crashed outcomes. */
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
  env: NodeJS.ProcessEnv = process.env,
): (event: SqsEvent) => Promise<BatchResponse> {
  enterWorkerMode();
  let worker: ReturnType<typeof createTaskWorker> | undefined;
  return (event) => {
    worker ??= (() => {
      const { address, s3, sqs } = connect(env, "worker");
      return createTaskWorker({
        tasks: new SqsQueue({ url: address.taskQueueUrl, client: sqs }),
        completions: new SqsQueue({ url: address.completionQueueUrl, client: sqs }),
        store: new S3ResultStore({ bucket: address.bucket, client: s3 }),
      });
    })();
    return worker.handle(event);
  };
}

/**
 * The coordinator function's handler, configured like the worker's, plus
 * `SQUALL_DEAD_LETTER_QUEUE_ARN` for the task dead-letter queue it also consumes.
 *
 * @example
 * // functions/coordinator.ts
 * export const handler = coordinatorHandler();
 */
export function coordinatorHandler(
  env: NodeJS.ProcessEnv = process.env,
): (event: CoordinatorEvent) => Promise<BatchResponse> {
  let coordinator: ReturnType<typeof createCoordinator> | undefined;
  return (event) => {
    coordinator ??= (() => {
      const { address, s3 } = connect(env, "coordinator");
      return createCoordinator({
        store: new S3ResultStore({ bucket: address.bucket, client: s3 }),
        deadLetterQueueArn: env[DEAD_LETTER_ARN_VARIABLE] || undefined,
      });
    })();
    return coordinator.handle(event);
  };
}

function connect(env: NodeJS.ProcessEnv, role: string) {
  const address = addressFromEnv(env);
  if (!address) {
    throw new InvalidArgumentError(
      `The ${role} function needs SQUALL_TASK_QUEUE_URL, SQUALL_COMPLETION_QUEUE_URL and SQUALL_BUCKET in its environment (the stack sets them).`,
    );
  }
  return { address, ...clientsFor(address) };
}
