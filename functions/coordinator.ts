// The coordinator Lambda: appends outcomes (and dead-lettered task runs, as Crashed) to each
// flow run's record. The local environment's coordinator thread calls this same handler.
import { coordinatorHandler } from "../sdk/aws/handlers.js";

export const handler = coordinatorHandler();
