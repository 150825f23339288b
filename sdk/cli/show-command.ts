import { IN_PROCESS } from "../observe.js";
import type { RunBackend } from "../records/backend.js";
import { readDetail } from "../records/reading.js";
import type { ErrorSummary, RunDetail } from "../records/run-fold.js";
import {
  type Colors,
  colorState,
  colorsFor,
  describeCounts,
  formatDuration,
  formatTime,
  table,
} from "./format.js";

/** `squall show <run>`: the flow run, its task runs with states, durations and attempts, and their errors with stacks. */
export async function showCommand(backend: RunBackend, run: string): Promise<number> {
  const detail = await readDetail(backend, run);
  process.stdout.write(`${describeRun(detail, colorsFor(process.stdout))}\n`);
  return 0;
}

export function describeRun(detail: RunDetail, colors: Colors): string {
  const { flowRun, meta, subflows, tasks } = detail;
  const out: string[] = [];
  out.push(
    `Flow run '${colors.bold(flowRun.name || "?")}' of flow '${flowRun.flowName || "?"}': ${colorState(colors, flowRun.state)}`,
  );
  const took =
    flowRun.endedAt !== undefined ? `, took ${formatDuration(flowRun.endedAt - flowRun.startedAt)}` : "";
  const facts: [string, string][] = [
    ["id", flowRun.id],
    ["started", `${flowRun.startedAt ? formatTime(flowRun.startedAt) : "-"}${took}`],
  ];
  if (meta) {
    facts.push(["file", meta.file], ["runner", meta.runner], ["params", JSON.stringify(meta.params)]);
  }
  facts.push(["task runs", describeCounts(flowRun.counts, colors)]);
  for (const [label, value] of facts) out.push(`  ${colors.dim(label.padEnd(10))} ${value}`);
  if (flowRun.error) {
    // The failed task runs' own errors follow; this one's stack is squall's.
    const { error } = flowRun;
    const summaryOnly = error.name === "TaskRunsFailedError" || error.name === "CancelledError";
    out.push(
      "",
      ...errorLines(
        colors,
        "Flow run error",
        summaryOnly ? { name: error.name, message: error.message } : error,
      ),
    );
  }

  if (subflows.length > 0) {
    out.push("");
    const rows = [["SUBFLOW RUN", "FLOW", "STATE", "DURATION"].map((h) => colors.dim(h))];
    for (const sub of subflows) {
      rows.push([
        sub.name,
        sub.flowName,
        colorState(colors, sub.state),
        duration(sub.startedAt, sub.endedAt),
      ]);
    }
    out.push(table(rows));
  }

  if (tasks.length > 0) {
    const flowNames = new Map(subflows.map((sub) => [sub.id, sub.name]));
    const withFlow = subflows.length > 0;
    // Where runs ran is worth a column once some ran outside the flow's process.
    const withWorker = tasks.some((task) => task.worker !== undefined && task.worker !== IN_PROCESS);
    const header = [
      "TASK RUN",
      "TASK",
      "STATE",
      "DURATION",
      "ATTEMPTS",
      ...(withFlow ? ["FLOW RUN"] : []),
      ...(withWorker ? ["WORKER"] : []),
    ];
    const rows = [header.map((h) => colors.dim(h))];
    for (const task of tasks) {
      rows.push([
        task.name,
        task.task,
        colorState(colors, task.state),
        duration(task.startedAt, task.endedAt),
        String(task.attempts),
        ...(withFlow ? [flowNames.get(task.flowRunId) ?? flowRun.name] : []),
        ...(withWorker ? [task.worker ?? "-"] : []),
      ]);
    }
    out.push("", table(rows));
  } else out.push("", colors.dim("No task runs."));

  const failed = tasks.filter((task) => task.error);
  if (failed.length > 0) {
    out.push("", colors.bold("Errors"));
    for (const task of failed) {
      const attempts = `${task.attempts} attempt${task.attempts === 1 ? "" : "s"}`;
      out.push(
        ...errorLines(colors, `${task.name} (${task.state} after ${attempts})`, task.error as ErrorSummary),
      );
    }
  }
  return out.join("\n");
}

function duration(startedAt: number | undefined, endedAt: number | undefined): string {
  return startedAt !== undefined && endedAt !== undefined ? formatDuration(endedAt - startedAt) : "-";
}

/** The title, then the error's stack (or name and message) indented under it. */
function errorLines(colors: Colors, title: string, error: ErrorSummary): string[] {
  const text = error.stack?.includes(error.message) ? error.stack : `${error.name}: ${error.message}`;
  return [`  ${title}`, ...text.split("\n").map((line) => `    ${colors.red(line)}`)];
}
