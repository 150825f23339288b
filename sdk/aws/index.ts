/**
 * squall/aws: the AWS parts of squall, kept apart so that `import "squall"` never loads the AWS SDK.
 *
 * @example
 * import { LambdaTaskRunner } from "squall/aws";
 *
 * const fanOut = flow({ taskRunner: new LambdaTaskRunner() }, async (items: string[]) => {
 *   return process.map(items).result();
 * });
 */
export { addressFromEnv, addressFromStack, type SquallAddress } from "./address.js";
export { type Emulator, type EmulatorOptions, startEmulator } from "./emulator.js";
export { coordinatorHandler, workerHandler } from "./handlers.js";
export { LambdaTaskRunner, type LambdaTaskRunnerOptions } from "./lambda-runner.js";
export {
  type LocalEnvironment,
  type LocalEnvironmentOptions,
  startLocalEnvironment,
} from "./local/environment.js";
export type { FaultOptions } from "./local/faults.js";
export { S3ResultStore, type S3ResultStoreOptions } from "./s3-store.js";
export type { FlowSchedule, ScheduleListing } from "./schedules/definition.js";
export {
  EVENT_PAYLOAD_LIMIT,
  FlowRunnerNotFoundError,
  type FlowRunnerTarget,
  type StartFlowRunOptions,
  startFlowRun,
} from "./start-flow-run.js";
