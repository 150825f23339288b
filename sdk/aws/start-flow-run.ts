// Starting a flow run on a deployment's flow-runner without waiting for it: the run id is minted
// here, so that whoever starts it can follow it at once (`squall logs --follow <id>`).
import { randomUUID } from "node:crypto";
import { InvalidArgumentError, SquallError } from "../errors.js";
import { STACK_OUTPUTS } from "./address.js";
import { announcedEnvironment } from "./local/announcement.js";
import { RUN_ID_PATTERN } from "./wire/messages.js";

/** Where the flow-runner is: a deployed stack (its outputs name it), or the function itself. */
export type FlowRunnerTarget =
  | {
      /** The stack's name: its `FlowRunnerFunctionName` output names the function. */
      readonly stack: string;
      /** @default the AWS SDK's (AWS_REGION, the profile) */
      readonly region?: string;
      /** Where the stack is asked for, such as LocalStack's `http://localhost:4566`. @default AWS */
      readonly endpoint?: string;
    }
  | {
      /** The flow-runner function's name or ARN. */
      readonly functionName: string;
      /** An emulator or LocalStack serving Lambda's Invoke API. @default AWS */
      readonly endpoint?: string;
      /** @default the AWS SDK's (AWS_REGION, the profile) */
      readonly region?: string;
    };

export interface StartFlowRunOptions {
  /** The run's id: 1 to 128 letters, digits, `_` or `-`, used once. @default a new UUID */
  readonly flowRunId?: string;
}

/** The stack output naming the flow-runner function. */
export const FLOW_RUNNER_OUTPUT = "FlowRunnerFunctionName";

/**
 * The most an `Event` invocation's payload may hold: Lambda refuses more (1 MB since 2025-26).
 * The whole payload counts, the flow's name and run id with the parameters.
 */
export const EVENT_PAYLOAD_LIMIT = 1_048_576;

/** The flow-runner to start a run on could not be found: no such stack, no such output, no environment. */
export class FlowRunnerNotFoundError extends SquallError {}

/**
 * Starts flow `flowName` on a deployment's flow-runner with JSON `parameters` (an array is the
 * flow's arguments, anything else its one argument) and resolves with the run's id as soon as
 * Lambda has taken the invocation (`InvocationType: "Event"`), without waiting for the run.
 * The flow-runner runs it durably under that id (it hands the run on near its timeout), so it
 * is followed with `squall logs --follow <id> --stack <name>` and cancelled with `squall cancel`.
 *
 * `target` is a stack (its outputs are read, as `LambdaTaskRunner({ stack })` reads them), the
 * function itself, or nothing: the local environment `squall env start --flows <module>` keeps
 * for the project at the working folder. From a script or another Lambda, the caller needs
 * `lambda:InvokeFunction` on the flow-runner (the stack's `SquallCaller` policy grants it) and,
 * for `{ stack }`, `cloudformation:DescribeStacks` on the stack (granted too).
 *
 * Refused before anything is sent: parameters JSON would not carry as they are (a function,
 * `undefined`, a `Date`, a `Map`, a cycle...), a payload above Lambda's 1 MB `Event` limit
 * (store large inputs in the bucket and pass their key), a run id that is not one.
 *
 * @example
 * import { startFlowRun } from "squall/aws";
 *
 * const { flowRunId } = await startFlowRun({ stack: "Squall" }, "greetings", [["arthur", "ford"]]);
 * console.log(`follow it: squall logs --follow ${flowRunId} --stack Squall`);
 */
export async function startFlowRun(
  target: FlowRunnerTarget | undefined,
  flowName: string,
  parameters?: unknown,
  options: StartFlowRunOptions = {},
): Promise<{ readonly flowRunId: string }> {
  if (typeof flowName !== "string" || flowName === "") {
    throw new InvalidArgumentError(`Expected \`flowName\` to be a flow's name, got \`${String(flowName)}\``);
  }
  const flowRunId = options.flowRunId ?? randomUUID();
  if (typeof flowRunId !== "string" || !RUN_ID_PATTERN.test(flowRunId)) {
    throw new InvalidArgumentError(
      `Expected \`flowRunId\` to be 1 to 128 letters, digits, \`_\` or \`-\`, got \`${String(flowRunId)}\``,
    );
  }
  const problem = notJson(parameters, "parameters");
  if (problem) {
    throw new InvalidArgumentError(
      `Expected \`parameters\` to be JSON (the flow-runner gets them as JSON), but ${problem}.`,
    );
  }
  const payload = JSON.stringify({ flow: flowName, parameters, flowRunId });
  const size = Buffer.byteLength(payload);
  if (size > EVENT_PAYLOAD_LIMIT) {
    throw new InvalidArgumentError(
      `The flow-runner's event would be ${size.toLocaleString("en-US")} bytes, more than Lambda takes for an asynchronous invocation (${EVENT_PAYLOAD_LIMIT.toLocaleString("en-US")}): put large inputs in the bucket and pass their key as a parameter.`,
    );
  }
  const fn = await flowRunnerOf(target);
  // Loaded only here: most users of squall/aws never start a run this way.
  const { InvokeCommand, LambdaClient } = await import("@aws-sdk/client-lambda");
  const lambda = new LambdaClient({
    region: fn.region ?? (fn.endpoint !== undefined && !process.env.AWS_REGION ? "us-east-1" : undefined),
    endpoint: fn.endpoint,
    credentials: localCredentials(fn.endpoint),
  });
  try {
    await lambda.send(
      new InvokeCommand({ FunctionName: fn.functionName, InvocationType: "Event", Payload: payload }),
    );
  } catch (error) {
    const name = (error as Error).name;
    if (name === "ResourceNotFoundException") {
      throw new FlowRunnerNotFoundError(
        `There is no function ${fn.functionName} (${fn.from}) to start flow '${flowName}' on: deploy the stack, or check the region.`,
        { cause: error },
      );
    }
    throw new SquallError(
      `Could not start flow '${flowName}' on ${fn.functionName} (${(error as Error).message}). The caller needs lambda:InvokeFunction on it (the stack's SquallCaller policy grants it).`,
      { cause: error },
    );
  } finally {
    lambda.destroy();
  }
  return { flowRunId };
}

interface FoundFlowRunner {
  readonly functionName: string;
  readonly region?: string;
  readonly endpoint?: string;
  /** Where its name came from, for messages. */
  readonly from: string;
}

async function flowRunnerOf(target: FlowRunnerTarget | undefined): Promise<FoundFlowRunner> {
  if (target === undefined) {
    const kept = announcedEnvironment();
    if (!kept) {
      throw new FlowRunnerNotFoundError(
        "No local environment runs for this project to start a flow run on: start one with `squall env start --flows <module>`, or give { stack } or { functionName }.",
      );
    }
    const functionName = kept.flowRunnerFunctionName;
    if (functionName === undefined) {
      throw new FlowRunnerNotFoundError(
        "The local environment kept for this project has no flow-runner: restart it with `squall env stop` and `squall env start --flows <module>`.",
      );
    }
    return { functionName, endpoint: kept.endpoint, region: kept.region, from: "the kept local environment" };
  }
  if (typeof target !== "object" || target === null) {
    throw new InvalidArgumentError(
      `Expected the target to be { stack }, { functionName } or nothing, got \`${String(target)}\``,
    );
  }
  if ("functionName" in target) {
    if (typeof target.functionName !== "string" || target.functionName === "") {
      throw new InvalidArgumentError(
        `Expected \`functionName\` to be the flow-runner's name or ARN, got \`${String(target.functionName)}\``,
      );
    }
    return { ...target, from: "as given" };
  }
  if (typeof target.stack !== "string" || target.stack === "") {
    throw new InvalidArgumentError(
      `Expected the target to be { stack }, { functionName } or nothing, got \`${JSON.stringify(target)}\``,
    );
  }
  const outputs = await stackOutputs(target.stack, target);
  const functionName = outputs[FLOW_RUNNER_OUTPUT];
  if (!functionName) {
    throw new FlowRunnerNotFoundError(
      `Stack '${target.stack}' has no output ${FLOW_RUNNER_OUTPUT}: deploy it with a version of squall whose stack has a flow-runner.`,
    );
  }
  // A flow-runner without a flow queue runs a run under an id of its own: the one returned would name nothing.
  if (!outputs[STACK_OUTPUTS.flowQueueUrl]) {
    throw new FlowRunnerNotFoundError(
      `Stack '${target.stack}' has no output ${STACK_OUTPUTS.flowQueueUrl}: its flow-runner predates durable runs and would not run the flow under the id returned. Deploy it again with this version of squall.`,
    );
  }
  return {
    functionName,
    region: target.region,
    endpoint: target.endpoint,
    from: `output ${FLOW_RUNNER_OUTPUT} of stack '${target.stack}'`,
  };
}

/** A deployed stack's outputs by key (CloudFormation `DescribeStacks`). */
async function stackOutputs(
  stack: string,
  where: { readonly region?: string; readonly endpoint?: string },
): Promise<Record<string, string>> {
  const { CloudFormationClient, DescribeStacksCommand } = await import("@aws-sdk/client-cloudformation");
  const client = new CloudFormationClient({
    region:
      where.region ?? (where.endpoint !== undefined && !process.env.AWS_REGION ? "us-east-1" : undefined),
    endpoint: where.endpoint,
    credentials: localCredentials(where.endpoint),
  });
  try {
    const answer = await client.send(new DescribeStacksCommand({ StackName: stack }));
    return Object.fromEntries(
      (answer.Stacks?.[0]?.Outputs ?? []).map((output) => [output.OutputKey ?? "", output.OutputValue ?? ""]),
    );
  } catch (error) {
    throw new FlowRunnerNotFoundError(
      `Could not read stack '${stack}' (${(error as Error).message}). Deploy it with \`npx cdk deploy\`, or check the region and credentials.`,
      { cause: error },
    );
  } finally {
    client.destroy();
  }
}

/** Credentials for an emulator when none are configured (emulators take any); else the SDK's chain. */
function localCredentials(endpoint: string | undefined) {
  if (endpoint === undefined) return undefined;
  if (process.env.AWS_ACCESS_KEY_ID || process.env.AWS_PROFILE) return undefined;
  return { accessKeyId: "squall-local", secretAccessKey: "squall-local" };
}

/**
 * What in `value` JSON would not carry as it is (`parameters[0].when is a Date`), or
 * `undefined` when it is plain JSON: null, booleans, finite numbers, strings, arrays and plain
 * objects of them. Top-level `undefined` is fine: the flow then gets no arguments.
 */
function notJson(value: unknown, path: string, seen = new Set<object>()): string | undefined {
  if (value === undefined) return path === "parameters" ? undefined : `\`${path}\` is undefined`;
  if (value === null || typeof value === "boolean" || typeof value === "string") return undefined;
  if (typeof value === "number") {
    return Number.isFinite(value) ? undefined : `\`${path}\` is ${value}, which JSON turns into null`;
  }
  if (typeof value !== "object") return `\`${path}\` is a ${typeof value}`;
  if (seen.has(value)) return `\`${path}\` refers back to itself`;
  const prototype = Object.getPrototypeOf(value);
  if (!Array.isArray(value) && prototype !== Object.prototype && prototype !== null) {
    return `\`${path}\` is a ${prototype?.constructor?.name ?? "class instance"}, which JSON does not keep as it is`;
  }
  seen.add(value);
  try {
    const entries: [string, unknown][] = Array.isArray(value)
      ? value.map((item, index) => [`[${index}]`, item])
      : Object.entries(value).map(([key, item]) => [
          /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`,
          item,
        ]);
    for (const [step, item] of entries) {
      const problem = notJson(item, `${path}${step}`, seen);
      if (problem) return problem;
    }
    return undefined;
  } finally {
    seen.delete(value);
  }
}
