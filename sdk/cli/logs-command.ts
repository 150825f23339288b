import { awaitRun } from "../records/await-run.js";
import type { RunBackend } from "../records/backend.js";
import { followRun, readDetail } from "../records/reading.js";
import type { LogLine, RecordLine } from "../records/record.js";
import { type Colors, colorsFor, formatClock } from "./format.js";

/**
 * `squall logs <run> [--follow]`: the run's log lines and console output in the order written,
 * log lines as squall prints them. With `--follow`, then each new line as the run goes on,
 * until it is final (or Ctrl-C). A run started elsewhere a moment ago (`squall run --detach`,
 * `startFlowRun`) is waited for by its id until its record appears.
 */
export async function logsCommand(
  backend: RunBackend,
  run: string,
  options: { readonly follow?: boolean; readonly startTimeoutMs?: number },
) {
  const colors = colorsFor(process.stdout);
  const names = new Map<string, string>();
  const write = (line: RecordLine) => {
    if (line.kind === "flow") names.set(line.id, line.name);
    const text = formatOutput(line, names, colors);
    if (text !== undefined) process.stdout.write(`${text}\n`);
  };
  if (!options.follow) {
    const detail = await readDetail(backend, run);
    names.set(detail.flowRun.id, detail.flowRun.name);
    for (const sub of detail.subflows) names.set(sub.id, sub.name);
    for (const line of detail.logs) write(line);
    return 0;
  }
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once("SIGINT", stop);
  try {
    const id = await awaitRun(backend, run, {
      signal: controller.signal,
      timeoutMs: options.startTimeoutMs,
      onWait: (id) =>
        process.stderr.write(
          `squall: flow run ${id} has not started in ${backend.where} yet; waiting for it…\n`,
        ),
    });
    await followRun(backend, id, write, controller.signal);
  } finally {
    process.off("SIGINT", stop);
  }
  return 0;
}

/** A log line as squall writes it to the terminal, console output as it was; other lines nothing. */
export function formatOutput(
  line: RecordLine,
  flowRunNames: Map<string, string>,
  colors: Colors,
): string | undefined {
  if (line.kind === "print") return line.text;
  if (line.kind !== "log") return undefined;
  const level = paintLevel(colors, line);
  const flowRunName = line.flowRunId ? flowRunNames.get(line.flowRunId) : undefined;
  const who = line.taskRunName
    ? `Task run '${line.taskRunName}' - `
    : flowRunName
      ? `Flow run '${flowRunName}' - `
      : "";
  return `${colors.dim(formatClock(line.time))} | ${level} | ${who}${line.message}`;
}

function paintLevel(colors: Colors, line: LogLine): string {
  const text = line.level.padEnd(8);
  if (line.level === "ERROR" || line.level === "CRITICAL") return colors.red(text);
  if (line.level === "WARNING") return colors.yellow(text);
  if (line.level === "DEBUG") return colors.dim(text);
  return text;
}
