import { inspect } from "node:util";
import type { FlowRunState } from "../engine/flow-run.js";
import { CancelledError } from "../errors.js";
import { observeProgress, observeRuns, type ProgressListener } from "../observe.js";
import { loadCompiler } from "./compiler.js";
import { checkDetached, startDetached } from "./detached-run.js";
import { loadFlow, parseTarget } from "./flow-loader.js";
import { type Colors, colorState, colorsFor, formatDuration, shortId } from "./format.js";
import { LiveDisplay } from "./live-display.js";
import { checkParamTypes } from "./param-types.js";
import { checkParams, parseParams } from "./params.js";
import { PlainLines } from "./plain-lines.js";
import { startRecording } from "./recorder.js";
import type { Reporter } from "./reporter.js";
import { checkRunner, makeRunner, type RunnerName, stackAddress } from "./runner-option.js";
import { Tally } from "./tally.js";
import { showsBars, summaryLines } from "./task-names.js";
import { ensureTypeScript } from "./typescript.js";
import { UsageError } from "./usage-error.js";

/** The signals that cancel a flow run `squall run` started, and their numbers (exit code 128 + n). */
const STOP_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
const SIGNAL_NUMBERS: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

let stoppedBy: NodeJS.Signals | undefined;

/**
 * The signal that cancelled the flow run, if one did. Once its output is written, the command
 * ends by that signal, as Unix programs stopped by one do: the shell reports 128 + its number
 * (130 for Ctrl-C), and a script running `squall` in a loop stops with it.
 */
export function stoppingSignal(): NodeJS.Signals | undefined {
  return stoppedBy;
}

/** The task runner of a flow that names none (the engine's default). */
const DEFAULT_RUNNER = "concurrent";

export interface RunOptions {
  readonly params?: string;
  readonly runner?: RunnerName;
  readonly stack?: string;
  readonly region?: string;
  readonly endpoint?: string;
  /** Start the run on the flow-runner of `stack` (or of the kept environment, `env`) and return. */
  readonly detach?: boolean;
  /** With `detach`: the kept local environment's flow-runner. */
  readonly env?: boolean;
}

/**
 * `squall run <file>:<flow>`: loads the module, starts the flow with the arguments and runner
 * given, shows its progress, records it, and prints its result. The exit code: 0 when the run
 * Completed, 128 + n when signal n (Ctrl-C, SIGTERM, SIGHUP) cancelled it, 1 otherwise; a `UsageError` (exit 2) before anything runs when the command cannot be
 * carried out as given. With `detach`, the flow and its arguments are checked here as for a run
 * here, then the run starts on a flow-runner and the command returns 0 with its id.
 */
export async function runCommand(target: string, options: RunOptions): Promise<number> {
  const { file, flow } = parseTarget(target);
  const args = parseParams(options.params);
  if (options.detach) checkDetached(options);
  else if (options.env) {
    throw new UsageError(
      "--env with squall run starts a detached run on the kept local environment's flow-runner: add --detach. To run the flow here with its tasks on that environment, use --runner lambda.",
    );
  }
  const runnerName = options.detach ? undefined : checkRunner(options.runner, options.stack);
  const address =
    options.stack && !options.detach ? await stackAddress({ ...options, stack: options.stack }) : undefined;
  await ensureTypeScript(file);
  // The compiler reads the flow's parameters: their types in a TypeScript file (it loads while
  // the module does), and their names when the arguments given are not as many as it requires.
  const typed = /\.[cm]?tsx?$/.test(file);
  const compiler = typed ? loadCompiler() : undefined;
  const start = await loadFlow(file, flow);
  const ts = await (compiler ?? (args.length !== start.fn.length ? loadCompiler() : undefined));
  checkParams(flow, start.fn, args, options.params, ts);
  if (ts && typed) checkParamTypes(ts, file, flow, start.fn, args);
  if (options.detach) return startDetached(flow, args, options);
  const taskRunner = runnerName && (await makeRunner(runnerName, address));

  const colors = colorsFor(process.stderr);
  const tally = new Tally();
  const live = process.stderr.isTTY === true && !process.env.CI;
  const display = live ? new LiveDisplay(tally, colors) : undefined;
  display?.start();
  const reporter: Reporter = display ?? new PlainLines(tally);
  let begun = false;
  const stopTally = observeRuns((event) => {
    tally.add(event);
    // The flow run starts inside start(), before its first log line: say so first.
    if (!begun && event.kind === "flow" && event.flowRunId === undefined) {
      begun = true;
      reporter.begin({ id: event.id, name: event.name, flowName: flow });
    }
  });
  const stopProgress = observeProgress(progressListener(tally, reporter));
  const recording = startRecording({
    // The runner the run uses: --runner's, else the flow's own, else the default one.
    meta: {
      flowName: flow,
      file,
      runner: runnerName ?? start.taskRunnerName ?? DEFAULT_RUNNER,
      params: args,
    },
  });
  const controller = new AbortController();
  // Ctrl-C, a kill or a closed terminal cancels the flow run, which then ends and is recorded
  // as such; a second one stops at once (the record then ends the run Crashed).
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(128 + (SIGNAL_NUMBERS[signal] ?? 2));
    stoppedBy = signal;
    const how = signal === "SIGINT" ? "Ctrl-C" : signal;
    reporter.line(`squall: cancelling the flow run (${how} again to stop at once)`);
    controller.abort(new CancelledError(`interrupted with ${how}`));
  };
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
  let final: FlowRunState<unknown>;
  try {
    final = await start(args, { signal: controller.signal, ...(taskRunner && { taskRunner }) }).final;
  } finally {
    for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
    stopTally();
    stopProgress();
    reporter.end();
    await recording.stop();
  }
  for (const line of summary(final, tally, colors, live)) process.stderr.write(`${line}\n`);
  if (final.type === "COMPLETED" && final.result !== undefined) {
    process.stdout.write(`${formatResult(final.result)}\n`);
  }
  if (stoppedBy) return 128 + (SIGNAL_NUMBERS[stoppedBy] ?? 2);
  return final.type === "COMPLETED" ? 0 : 1;
}

/**
 * What the run's task runner reports between run events: task runs' progress to the tally, and
 * the environment it starts and runs on as lines, `squall: starting the local environment…`
 * while it starts (it may take a second or two), then where the task runs go.
 */
export function progressListener(tally: Tally, reporter: Reporter): ProgressListener {
  return (progress) => {
    tally.progress(progress);
    if (progress.kind === "task") return;
    if (progress.phase === "starting") reporter.line(`squall: starting ${progress.description}…`);
    else reporter.line(`squall: task runs go to ${progress.description}`);
  };
}

function summary(final: FlowRunState<unknown>, tally: Tally, colors: Colors, live: boolean): string[] {
  const run = final.flowRun;
  const took = formatDuration((run.endTime?.getTime() ?? Date.now()) - (run.startTime?.getTime() ?? 0));
  const mark = live ? `${final.type === "COMPLETED" ? colors.green("✔") : colors.red("✖")} ` : "squall: ";
  const error = "error" in final ? `: ${final.error.name}: ${firstLine(final.error.message)}` : "";
  const id = shortId(run.id);
  const indent = live ? "  " : "squall: ";
  // By task name too, in a run of several names or many runs: counts, time and throughput.
  const byName =
    tally.names.length > 1 || showsBars(tally)
      ? summaryLines(tally, Date.now(), colors, final.type !== "CANCELLED").map(
          (line) => `${indent}  ${line}`,
        )
      : [];
  return [
    `${mark}Flow run '${run.name}' ${colorState(colors, final.name)} in ${took}${error}`,
    // A cancelled run's throughput measures when it was stopped, not how fast runs went: left out.
    `${indent}task runs: ${tally.describe(Date.now(), colors, final.type !== "CANCELLED")}`,
    ...byName,
    `${indent}${colors.dim(`recorded as ${run.id}: squall show ${id}, squall logs ${id}`)}`,
  ];
}

function firstLine(text: string): string {
  return text.split("\n")[0] ?? "";
}

function formatResult(value: unknown): string {
  try {
    const json = JSON.stringify(value, null, 2);
    if (json !== undefined) return json;
  } catch {}
  return inspect(value, { depth: 6 });
}
