import { MemoryResultStore } from "./memory.js";

/** Where cached and persisted results go when neither the task nor its flow names a store. */
export const defaultResultStore = new MemoryResultStore();
