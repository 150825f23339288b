// squall's CDK construct, for a user's own app:
//   new Squall(this, "Squall", { flows: "src/flows.ts" });
export type { FlowSchedule } from "../sdk/aws/schedules/definition.js";
export { FlowSchedules, type FlowSchedulesProps } from "./constructs/flow-schedules.js";
export type { FunctionSettings } from "./constructs/squall-function.js";
export {
  type CoordinatorSettings,
  type FlowRunnerSettings,
  type PoolSettings,
  Squall,
  type SquallProps,
  type WorkerPool,
  type WorkerSettings,
} from "./squall.js";
export { SquallStack, type SquallStackProps } from "./squall-stack.js";
