// The flow-runner Lambda: starts a flow by name with JSON parameters; its tasks go to the
// worker fleet. The deployment bundles it with the flows module; elsewhere SQUALL_FLOWS names it.
import { flowRunnerHandler } from "../sdk/aws/handlers.js";

export const handler = flowRunnerHandler();
