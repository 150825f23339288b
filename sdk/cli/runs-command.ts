import type { RunBackend } from "../records/backend.js";
import type { RunCounts } from "../records/record.js";
import { colorState, colorsFor, formatDuration, formatTime, shortId, table, totalOf } from "./format.js";
import { UsageError } from "./usage-error.js";

/** `squall runs`: the recorded flow runs, newest first, one a line. */
export async function runsCommand(
  backend: RunBackend,
  options: { readonly limit?: string },
): Promise<number> {
  const limit = Number(options.limit ?? 20);
  if (!Number.isInteger(limit) || limit < 1) {
    throw new UsageError(`Expected --limit to be an integer >= 1, got \`${options.limit}\`.`);
  }
  const runs = await backend.list();
  if (runs.length === 0) {
    process.stdout.write(
      `No flow runs recorded in ${backend.where} yet: squall run <file>:<flow> starts one.\n`,
    );
    return 0;
  }
  const colors = colorsFor(process.stdout);
  const rows = [
    ["ID", "NAME", "FLOW", "STATE", "STARTED", "DURATION", "TASK RUNS"].map((h) => colors.dim(h)),
  ];
  for (const run of runs.slice(0, limit)) {
    rows.push([
      shortId(run.id),
      run.name || "-",
      run.flowName || "-",
      colorState(colors, run.state),
      run.startedAt ? formatTime(run.startedAt) : "-",
      run.endedAt !== undefined ? formatDuration(run.endedAt - run.startedAt) : "-",
      describeTaskRuns(run.counts),
    ]);
  }
  process.stdout.write(`${table(rows)}\n`);
  // Why a run crashed is not in its other lines: its process, or its caller, stopped.
  for (const run of runs.slice(0, limit)) {
    if (run.state === "Crashed" && run.error) {
      process.stdout.write(`${shortId(run.id)} ${colorState(colors, run.state)}: ${run.error.message}\n`);
    }
  }
  if (runs.length > limit) {
    process.stdout.write(
      colors.dim(`(${runs.length - limit} older runs not shown: --limit ${runs.length})\n`),
    );
  }
  return 0;
}

/** `16: 15 completed, 1 failed`: the total, then the counts that are not zero. */
function describeTaskRuns(counts: RunCounts): string {
  const total = totalOf(counts);
  const parts = Object.entries(counts)
    .filter(([, n]) => n > 0)
    .map(([key, n]) => `${n} ${key}`);
  return total === 0 ? "0" : `${total}: ${parts.join(", ")}`;
}
