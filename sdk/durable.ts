import { createHash } from "node:crypto";
import { currentScope } from "./context.js";
import type { FlowRun } from "./engine/flow-run.js";
import { InvalidArgumentError, MissingContextError } from "./errors.js";
import type { FlowRunInfo } from "./runs.js";

// What a flow function uses in place of the clock, Math.random() and timers so that it does the
// same thing each time it runs with the same parameters and results, which is what lets a
// durable flow run be resumed by running its flow function again (see docs/DURABLE.md).

function flowRunOf(what: string): FlowRunInfo {
  const scope = currentScope();
  if (!scope) {
    throw new MissingContextError(
      `${what} was called outside a flow run. Call it from inside a flow function.`,
    );
  }
  return scope.flowRun;
}

/**
 * When the flow run first started: the same each time a durable run's flow function runs again,
 * where `new Date()` is not. Use it for anything the flow decides by the time.
 *
 * @example
 * const day = flowRunStartTime().toISOString().slice(0, 10);
 */
export function flowRunStartTime(): Date {
  const run = flowRunOf("flowRunStartTime()");
  return run.startTime ?? new Date();
}

const draws = new WeakMap<FlowRunInfo, number>();

/**
 * A number from 0 (included) to 1 (excluded), as `Math.random()` gives, but drawn from the flow
 * run's own sequence (seeded by its id): the n-th call in a flow run returns the same number each
 * time the run's flow function runs again.
 *
 * @example
 * const sample = items.filter(() => flowRandom() < 0.1);
 */
export function flowRandom(): number {
  const run = flowRunOf("flowRandom()");
  const n = (draws.get(run) ?? 0) + 1;
  draws.set(run, n);
  const digest = createHash("sha256").update(`${run.id}/random/${n}`).digest();
  // 53 random bits, as a double in [0, 1).
  return (digest.readUInt32BE(0) * 2 ** 21 + (digest.readUInt32BE(4) >>> 11)) / 2 ** 53;
}

/**
 * Waits `ms` milliseconds as a step of the flow. In a flow run on the stack's flow-runner the wait
 * is durable: its end is recorded, a flow run again waits only what is left, and a wait past the
 * invocation's end hands the run on, to be resumed when it is over, holding no function running
 * meanwhile (a day's sleep costs a resume every 15 minutes, SQS's longest delay). Elsewhere it is
 * a timer. Cancelling the flow run ends the wait. Inside a task function it is a plain timer.
 *
 * @example
 * await sleep(60 * 60 * 1000); // an hour, with no function running
 */
export async function sleep(ms: number): Promise<void> {
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) {
    throw new InvalidArgumentError(
      `Expected sleep() to get a number of milliseconds from 0 up, got \`${String(ms)}\``,
    );
  }
  const scope = currentScope();
  if (!scope || scope.taskRun) {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return;
  }
  await (scope.flowRun as FlowRun).sleep(ms);
}
