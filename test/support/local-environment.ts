// What tests on the local environment share: a caller in a process of its own (so that it can be
// killed), and waiting for the queues to hold nothing.
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import type { LocalEnvironment } from "squall/aws";
import { ADDRESS_VARIABLES } from "../../sdk/aws/address.js";

export const PROJECT_ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** This process's environment with SQUALL_* variables naming `local`: a `LambdaTaskRunner()` there runs on it. */
export function callerEnv(local: LocalEnvironment): Record<string, string> {
  const { address } = local;
  return {
    ...(process.env as Record<string, string>),
    [ADDRESS_VARIABLES.taskQueueUrl]: address.taskQueueUrl,
    [ADDRESS_VARIABLES.completionQueueUrl]: address.completionQueueUrl,
    [ADDRESS_VARIABLES.bucket]: address.bucket,
    [ADDRESS_VARIABLES.endpoint]: address.endpoint,
    [ADDRESS_VARIABLES.region]: address.region,
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
  };
}

/** A caller process: its child, and its output lines once one of them matches `until`. */
export interface CallerProcess {
  readonly child: ChildProcess;
  lines(until: (line: string) => boolean): Promise<string[]>;
  /** Resolves with its exit code (or the signal that ended it) and every line it printed. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; lines: string[] }>;
}

/**
 * Runs `script` (a fixture, by file URL) with `args` in a Node process of its own, whose
 * SQUALL_* variables name `local`, so that its `LambdaTaskRunner()` runs there.
 */
export function startCaller(local: LocalEnvironment, script: URL, args: readonly string[]): CallerProcess {
  const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(script), ...args], {
    cwd: PROJECT_ROOT,
    env: callerEnv(local),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  let stderr = "";
  const printed = () => output.split("\n").filter(Boolean);
  child.stdout?.on("data", (chunk) => {
    output += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; lines: string[] }>(
    (resolve) => child.once("exit", (code, signal) => resolve({ code, signal, lines: printed() })),
  );
  const lines = (until: (line: string) => boolean) =>
    new Promise<string[]>((resolve, reject) => {
      const check = () => {
        if (printed().some(until)) resolve(printed());
      };
      child.stdout?.on("data", check);
      void exited.then(() => {
        check();
        reject(new Error(`The caller exited first:\n${output}${stderr}`));
      });
      check();
    });
  return { child, lines, exited };
}

/**
 * Waits until the task and completion queues hold nothing (visible, in flight or delayed): every
 * copy of every message has been handled, so a duplicate can no longer reach the record.
 */
export async function queuesDrained(local: LocalEnvironment, timeoutMs = 15_000): Promise<void> {
  const sqs = local.emulator.sqsClient();
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let held = 0;
      for (const url of [local.address.taskQueueUrl, local.address.completionQueueUrl]) {
        const { Attributes = {} } = await sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: url,
            AttributeNames: [
              "ApproximateNumberOfMessages",
              "ApproximateNumberOfMessagesNotVisible",
              "ApproximateNumberOfMessagesDelayed",
            ],
          }),
        );
        held += Object.values(Attributes).reduce((sum, n) => sum + Number(n), 0);
      }
      if (held === 0) return;
      if (Date.now() > deadline)
        throw new Error(`The queues still hold ${held} messages after ${timeoutMs} ms.`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    sqs.destroy();
  }
}

/**
 * Runs `script` (a fixture, by file URL) with `args` as a caller of `local` in a process of its
 * own, with `--expose-gc` (its memory is then the caller's alone, and it can collect before
 * measuring), and resolves with the JSON object it prints on a line of its own.
 */
export function callerReport<T>(local: LocalEnvironment, script: URL, args: readonly string[]): Promise<T> {
  const child = spawn(process.execPath, ["--expose-gc", "--import", "tsx", fileURLToPath(script), ...args], {
    cwd: PROJECT_ROOT,
    env: callerEnv(local),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => {
      const line = stdout.split("\n").find((text) => text.startsWith("{"));
      if (code === 0 && line) resolve(JSON.parse(line) as T);
      else reject(new Error(`The caller exited (${code}):\n${stdout}${stderr}`));
    });
  });
}

/**
 * Starts a flow on `local`'s flow-runner as `startFlowRun` does (an `Event` invocation), with the
 * run id given; answers the Invoke API's status code.
 */
export async function startOnFlowRunner(
  local: LocalEnvironment,
  payload: { flow: string; parameters: unknown[]; flowRunId: string },
): Promise<number | undefined> {
  const lambda = new LambdaClient({
    endpoint: local.address.endpoint,
    region: local.address.region,
    credentials: { accessKeyId: "squall-local", secretAccessKey: "squall-local" },
  });
  try {
    const answer = await lambda.send(
      new InvokeCommand({
        FunctionName: local.flowRunnerFunctionName,
        InvocationType: "Event",
        Payload: JSON.stringify(payload),
      }),
    );
    return answer.StatusCode;
  } finally {
    lambda.destroy();
  }
}
