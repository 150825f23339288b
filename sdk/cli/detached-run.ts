// `squall run file.ts:flow --detach`: the flow run starts on a flow-runner (a deployed stack's, or
// the kept local environment's) and goes on there; the command prints its id and how to follow
// it, and returns.
import { InvalidArgumentError } from "../errors.js";
import { announcedForReading } from "./env-command.js";
import type { StackOptions } from "./runner-option.js";
import { UsageError } from "./usage-error.js";

/** Type-only: squall/aws loads when a detached run starts. */
type FlowRunnerTarget = import("../aws/start-flow-run.js").FlowRunnerTarget;

/** Where a detached run starts: `--stack` (with `--region`, `--endpoint`) or `--env`. */
export interface DetachOptions extends Partial<StackOptions> {
  readonly env?: boolean;
}

/**
 * Checks that a detached run has a flow-runner to start on before anything loads: a `UsageError`
 * (exit 2) saying why when `--detach` has neither `--stack` nor `--env`, or both.
 */
export function checkDetached(options: DetachOptions & { readonly runner?: string }): void {
  if (options.env && options.stack !== undefined) {
    throw new UsageError(
      "--env starts the run on the kept local environment and --stack on a deployed stack: give one of them.",
    );
  }
  if (options.stack === undefined && !options.env) {
    throw new UsageError(
      "--detach starts the run on a flow-runner, which lives on a deployed stack or a kept local environment: add --stack <name>, or --env (squall env start --flows <module>). Without --detach, squall run runs the flow here.",
    );
  }
  if (options.runner !== undefined) {
    throw new UsageError(
      "--runner picks the task runner of a run in this process; a detached run's flow runs on the flow-runner, with the flow's own runner: leave --runner out.",
    );
  }
}

/**
 * Starts the flow run on the flow-runner and prints its id (stdout) and how to follow and cancel
 * it (stderr). Resolves 0 once Lambda has taken it; a flow-runner that cannot be found is a
 * `UsageError` (exit 2).
 */
export async function startDetached(flow: string, args: unknown[], options: DetachOptions): Promise<number> {
  const { FlowRunnerNotFoundError, startFlowRun } = await import("../aws/start-flow-run.js");
  const { target, where, flags } = await targetOf(options);
  let flowRunId: string;
  try {
    ({ flowRunId } = await startFlowRun(target, flow, args));
  } catch (error) {
    // No flow-runner there, or parameters it cannot take: the command as given cannot be carried out.
    if (error instanceof FlowRunnerNotFoundError || error instanceof InvalidArgumentError) {
      throw new UsageError((error as Error).message, { cause: error });
    }
    throw error;
  }
  process.stderr.write(
    `squall: started flow '${flow}' on ${where} as flow run ${flowRunId}\n` +
      `squall: follow it with  squall logs --follow ${flowRunId} ${flags}\n` +
      `squall: cancel it with  squall cancel ${flowRunId} ${flags}\n`,
  );
  process.stdout.write(`${flowRunId}\n`);
  return 0;
}

async function targetOf(
  options: DetachOptions,
): Promise<{ target: FlowRunnerTarget; where: string; flags: string }> {
  if (options.stack !== undefined) {
    const { stack, region, endpoint } = options;
    const flags = [
      `--stack ${stack}`,
      ...(region !== undefined ? [`--region ${region}`] : []),
      ...(endpoint !== undefined ? [`--endpoint ${endpoint}`] : []),
    ].join(" ");
    return { target: { stack, region, endpoint }, where: `stack '${stack}'`, flags };
  }
  const announcement = await announcedForReading();
  if (announcement.flowRunnerFunctionName === undefined) {
    throw new UsageError(
      "The local environment kept for this project has no flow-runner to start the run on: restart it with squall env stop, then squall env start --flows <module>.",
    );
  }
  return {
    target: {
      functionName: announcement.flowRunnerFunctionName,
      endpoint: announcement.endpoint,
      region: announcement.region,
    },
    where: "the kept local environment",
    flags: "--env",
  };
}
