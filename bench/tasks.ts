// Tasks the thread-pool benchmark runs; worker threads import this module to find them.
import { task } from "squall";

export const noopInThread = task(function noopInThread(i: number) {
  return i;
});

/** Fixed CPU work: the same number of multiply-adds whatever the machine's load. */
export const crunch = task(function crunch(rounds: number) {
  let x = 1;
  for (let i = 0; i < rounds; i++) x = (x * 1103515245 + 12345) % 2147483648;
  return x;
});

/** Waits `ms` without using the CPU: I/O-bound work. */
export const waitInThread = task(async function waitInThread(ms: number) {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return ms;
});
