// What the harness saw, in a few lines for a failing assertion: denials, refused SQS calls,
// throttles and lost answers, each function's invocations, and the end of the laptop's output.
import type { DeployedStack } from "../harness/deployed-stack.js";
import { describeDenials } from "../harness/iam-layer.js";
import type { LaptopRun } from "./laptop.js";

export function whatHappened(stack: DeployedStack, run?: LaptopRun): string {
  const lines: string[] = [];
  if (run) {
    lines.push(`laptop: exit ${run.code}${run.timedOut ? " (killed: still running at its timeout)" : ""}`);
    lines.push(`laptop stdout (end): ${run.stdout.slice(-1500)}`);
    lines.push(`laptop stderr (end): ${run.stderr.slice(-1500)}`);
  }
  lines.push(`denied: ${describeDenials(stack.denials)}`);
  if (stack.refusals.length > 0) {
    lines.push(`SQS refused: ${stack.refusals.map((r) => `${r.operation} ${r.code}`).join(", ")}`);
  }
  if (stack.throttles.events.length > 0) lines.push(`throttled batches: ${stack.throttles.events.length}`);
  if (stack.lostResponses.events.length > 0) {
    lines.push(
      `answers lost: ${stack.lostResponses.events.map((e) => `${e.operation} (${e.as})`).join(", ")}`,
    );
  }
  for (const fn of stack.functions.values()) {
    const results = fn.invocations.map(
      (i) => `${i.source}${i.attempt > 1 ? `#${i.attempt}` : ""}:${i.result ?? "running"}`,
    );
    lines.push(`${fn.config.logicalId}: ${results.join(", ") || "never invoked"}`);
    const errors = new Set(
      fn.invocations.flatMap((i) => (i.errorMessage ? [i.errorMessage.slice(0, 400)] : [])),
    );
    for (const message of errors) lines.push(`  failed with: ${message}`);
  }
  return `${lines.join("\n")}\n`;
}
