import { ConcurrentTaskRunner } from "../runners/concurrent.js";
import { SequentialTaskRunner } from "../runners/sequential.js";
import type { TaskRunner } from "../runners/task-runner.js";
import { ThreadPoolTaskRunner } from "../runners/thread-pool.js";
import { UsageError } from "./usage-error.js";

/** Type-only, as an import type: nothing here loads squall/aws until a stack or `lambda` asks for it. */
type SquallAddress = import("../aws/address.js").SquallAddress;

export const RUNNERS = ["sequential", "concurrent", "threads", "lambda"] as const;
export type RunnerName = (typeof RUNNERS)[number];

/** Where a deployed stack is: its name, and the region and endpoint (LocalStack) to ask in. */
export interface StackOptions {
  readonly stack: string;
  readonly region?: string;
  readonly endpoint?: string;
}

/**
 * The address of a deployed stack, from its outputs; a `UsageError` when it cannot be read
 * (no such stack, no credentials, no network, outputs missing), so that `squall` exits 2.
 */
export async function stackAddress(options: StackOptions): Promise<SquallAddress> {
  // Loaded only here: local runs never load the AWS SDK.
  const { addressFromStack } = await import("../aws/address.js");
  try {
    return await addressFromStack(options.stack, { region: options.region, endpoint: options.endpoint });
  } catch (error) {
    // It says which stack, why, and what to do; at the kept local environment's endpoint, where
    // there are no stacks, what to give instead.
    const { announcedEnvironment } = await import("../aws/local/announcement.js");
    const kept = options.endpoint !== undefined ? announcedEnvironment() : undefined;
    const hint =
      kept && sameEndpoint(kept.endpoint, options.endpoint as string)
        ? ` ${options.endpoint} is the local environment squall env start keeps, which has no stacks: read it with --env, or run on it with --runner lambda and no --stack.`
        : "";
    throw new UsageError(`${(error as Error).message.split("\n")[0] ?? ""}${hint}`, { cause: error });
  }
}

function sameEndpoint(a: string, b: string): boolean {
  const origin = (url: string) => {
    try {
      return new URL(url).origin.replace("//localhost:", "//127.0.0.1:");
    } catch {
      return url;
    }
  };
  return origin(a) === origin(b);
}

/** The task runner `--runner` names; on a stack's address for `lambda` when one is given. */
export async function makeRunner(name: RunnerName, address: SquallAddress | undefined): Promise<TaskRunner> {
  switch (name) {
    case "sequential":
      return new SequentialTaskRunner();
    case "concurrent":
      return new ConcurrentTaskRunner();
    case "threads":
      return new ThreadPoolTaskRunner();
    case "lambda": {
      const { LambdaTaskRunner } = await import("../aws/lambda-runner.js");
      return new LambdaTaskRunner(address ?? {});
    }
  }
}

/** `--runner` and `--stack` together: a stack runs tasks on Lambda, so it takes `lambda` or nothing. */
export function checkRunner(
  runner: RunnerName | undefined,
  stack: string | undefined,
): RunnerName | undefined {
  if (stack !== undefined && runner !== undefined && runner !== "lambda") {
    throw new UsageError(
      `--stack runs tasks on the stack's Lambda functions, so it goes with --runner lambda (or no --runner), not --runner ${runner}.`,
    );
  }
  return stack !== undefined ? "lambda" : runner;
}
