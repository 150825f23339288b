// What a run of the deployed `greetings` flow must leave, however it was started: one flow run in
// the stack's bucket, final and Completed, each of its task runs completed once, once the stack
// has nothing left to do; and, where the flow ran on a laptop, each task's console line replayed
// there once.
import { expect } from "vitest";
import type { DeployedStack } from "../harness/deployed-stack.js";
import { type FinishedRun, finishedRun, flowRunIds } from "./flow-runs.js";
import type { LaptopRun } from "./laptop.js";
import { whatHappened } from "./report.js";

export const NAMES = ["arthur", "trillian", "ford", "marvin"];

/** The console lines greetings(names) prints, in a stable order. */
export function greetingLines(names: readonly string[]): string[] {
  return names.flatMap((name) => [`hello ${name}`, `goodbye ${name}`]).sort();
}

/** The lines of a laptop's stdout that are greetings. */
export function printedGreetings(stdout: string): string[] {
  return stdout
    .split("\n")
    .filter((line) => /^(hello|goodbye) /.test(line))
    .sort();
}

/** The stack's one flow run, once final: fails the test if there is not exactly one. */
export async function theOnlyFlowRun(
  stack: DeployedStack,
  run?: LaptopRun,
): Promise<FinishedRun & { id: string }> {
  const ids = await flowRunIds(stack);
  expect(ids, `flow runs in the bucket\n${whatHappened(stack, run)}`).toHaveLength(1);
  const id = ids[0] as string;
  return { id, ...(await finishedRun(stack, id)) };
}

export async function expectCompletedGreetings(
  stack: DeployedStack,
  names: readonly string[],
  run?: LaptopRun,
): Promise<string> {
  // Late repeats (a redelivered message, a retried send) are recorded before the record is read.
  expect(await stack.quiet(), `still busy\n${whatHappened(stack, run)}`).toBe(true);
  const record = await theOnlyFlowRun(stack, run);
  const report = () =>
    `flow run ${record.id}: ${JSON.stringify(record.summary)}\n${whatHappened(stack, run)}`;
  expect(record.summary?.state, report()).toBe("Completed");
  expect(record.summary?.counts, report()).toEqual({
    completed: 2 * names.length,
    failed: 0,
    crashed: 0,
    cancelled: 0,
  });
  expect(Object.values(record.tasks), report()).toEqual(Array(2 * names.length).fill("completed"));
  if (run) expect(printedGreetings(run.stdout), report()).toEqual(greetingLines(names));
  return record.id;
}
