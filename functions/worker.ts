// The worker Lambda: runs task runs from the task queue, by name, and reports their outcomes.
// The local environment's worker threads call this same handler.
import { workerHandler } from "../sdk/aws/handlers.js";

export const handler = workerHandler();
