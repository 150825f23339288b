// Tasks the Lambda benchmark runs; the local environment's worker threads import this module
// by its file URL to find them, so it defines tasks and runs nothing.
import { task } from "squall";

export const noopInLambda = task(function noopInLambda(i: number) {
  return i;
});

/** Waits `ms` and returns it: short and long runs mixed, for completion latency. */
export const sleepInLambda = task(async function sleepInLambda(ms: number) {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return ms;
});
