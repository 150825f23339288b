import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { InvalidArgumentError, SquallError } from "../errors.js";
import { POOL_NAME } from "../options.js";
import type { InvocationRetries } from "./retry.js";

/**
 * Where a squall deployment lives: its queues and bucket, on AWS or on an emulator
 * (`endpoint`). A deployed stack's outputs, `SQUALL_*` environment variables and the local
 * environment all come down to one of these.
 *
 * @example
 * const address: SquallAddress = {
 *   region: "eu-west-1",
 *   taskQueueUrl: "https://sqs.eu-west-1.amazonaws.com/123456789012/squall-tasks",
 *   completionQueueUrl: "https://sqs.eu-west-1.amazonaws.com/123456789012/squall-completions",
 *   bucket: "squall-results-123456789012",
 * };
 */
export interface SquallAddress {
  /** @default the AWS SDK's (AWS_REGION, the profile) */
  readonly region?: string;
  /** An emulator or LocalStack, e.g. `http://127.0.0.1:4566`. @default AWS */
  readonly endpoint?: string;
  readonly taskQueueUrl: string;
  readonly completionQueueUrl: string;
  readonly bucket: string;
  /**
   * The worker function's timeout: a task whose `timeoutSeconds` is longer is refused at
   * `.submit()`, since Lambda would end the worker first. @default unknown: no task is refused
   */
  readonly workerTimeoutSeconds?: number;
  /**
   * The deployment's bound on a caller's silence: a caller that sets no `callerSilenceSeconds`
   * of its own uses it, and the sweep ends a run whose caller wrote no heartbeat by it.
   * @default 180
   */
  readonly callerSilenceSeconds?: number;
  /**
   * The deployment's worker pools besides the default one (whose queue is `taskQueueUrl`), by
   * name: where tasks with `pool: name` are sent. @default none
   */
  readonly pools?: Readonly<Record<string, PoolAddress>>;
  /**
   * The flow queue: a message there starts or resumes a durable flow run on the deployment's
   * flow-runner. @default none: the deployment predates it, or (locally) has no flow-runner
   */
  readonly flowQueueUrl?: string;
}

/** A worker pool: its task queue, and its worker function's timeout. */
export interface PoolAddress {
  readonly taskQueueUrl: string;
  /** A task whose `timeoutSeconds` is longer is refused at `.submit()`. @default unknown */
  readonly workerTimeoutSeconds?: number;
}

/** The name `task({ pool })` gives the pool `taskQueueUrl` feeds: tasks naming no pool go there too. */
export const DEFAULT_POOL = "default";

/** The environment variables an address can be given by (the functions read the same ones). */
export const ADDRESS_VARIABLES = {
  region: "SQUALL_REGION",
  endpoint: "SQUALL_ENDPOINT",
  taskQueueUrl: "SQUALL_TASK_QUEUE_URL",
  completionQueueUrl: "SQUALL_COMPLETION_QUEUE_URL",
  bucket: "SQUALL_BUCKET",
  workerTimeoutSeconds: "SQUALL_WORKER_TIMEOUT_SECONDS",
  callerSilenceSeconds: "SQUALL_CALLER_SILENCE_SECONDS",
  /** JSON: `{ "<pool>": { "taskQueueUrl": "...", "workerTimeoutSeconds": 900 } }` */
  pools: "SQUALL_POOLS",
  flowQueueUrl: "SQUALL_FLOW_QUEUE_URL",
} as const satisfies Record<keyof SquallAddress, string>;

/** The stack outputs `LambdaTaskRunner({ stack })` reads. */
export const STACK_OUTPUTS = {
  taskQueueUrl: "TaskQueueUrl",
  completionQueueUrl: "CompletionQueueUrl",
  bucket: "BucketName",
  workerTimeoutSeconds: "WorkerTimeoutSeconds",
  callerSilenceSeconds: "CallerSilenceSeconds",
  /**
   * One output a worker pool, keyed `Pool` and the pool's name in PascalCase (`PoolLarge`), whose
   * value is JSON: `{ "name": "large", "taskQueueUrl": "...", "workerTimeoutSeconds": 900 }`.
   */
  poolPrefix: "Pool",
  flowQueueUrl: "FlowQueueUrl",
} as const;

/** An output's key for a pool: `Pool` and the name with each `-` dropped and the letter after it capitalised. */
export function poolOutputKey(pool: string): string {
  return `${STACK_OUTPUTS.poolPrefix}${pool.replace(/(^|-)([a-z0-9])/g, (_, __, c: string) => c.toUpperCase())}`;
}

/** The address `SQUALL_*` variables give, or `undefined` when none is set. */
export function addressFromEnv(env: NodeJS.ProcessEnv = process.env): SquallAddress | undefined {
  const names = Object.values(ADDRESS_VARIABLES);
  if (!names.some((name) => env[name])) return undefined;
  const missing = (["taskQueueUrl", "completionQueueUrl", "bucket"] as const)
    .map((field) => ADDRESS_VARIABLES[field])
    .filter((name) => !env[name]);
  if (missing.length > 0) {
    const set = names.filter((name) => env[name]).join(", ");
    throw new InvalidArgumentError(
      `The environment sets ${set} but not ${missing.join(", ")}: set all of SQUALL_TASK_QUEUE_URL, SQUALL_COMPLETION_QUEUE_URL and SQUALL_BUCKET (a deployed stack's outputs), or none for the local environment.`,
    );
  }
  const {
    taskQueueUrl,
    completionQueueUrl,
    bucket,
    region,
    endpoint,
    workerTimeoutSeconds,
    callerSilenceSeconds,
    pools,
    flowQueueUrl,
  } = ADDRESS_VARIABLES;
  return checkAddress(
    {
      region: env[region] || undefined,
      // In a function on LocalStack, AWS_ENDPOINT_URL is where LocalStack is.
      endpoint: env[endpoint] || env.AWS_ENDPOINT_URL || undefined,
      taskQueueUrl: env[taskQueueUrl] as string,
      completionQueueUrl: env[completionQueueUrl] as string,
      bucket: env[bucket] as string,
      workerTimeoutSeconds: seconds(env[workerTimeoutSeconds], workerTimeoutSeconds),
      callerSilenceSeconds: seconds(env[callerSilenceSeconds], callerSilenceSeconds, SILENCE),
      pools: poolsJson(env[pools], pools),
      flowQueueUrl: env[flowQueueUrl] || undefined,
    },
    "the environment (SQUALL_*)",
  );
}

/** Reads a deployed stack's outputs (CloudFormation `DescribeStacks`). */
export async function addressFromStack(
  stack: string,
  where: { readonly region?: string; readonly endpoint?: string } = {},
): Promise<SquallAddress> {
  // Loaded only here: most callers never read a stack.
  const { CloudFormationClient, DescribeStacksCommand } = await import("@aws-sdk/client-cloudformation");
  const client = new CloudFormationClient({
    region: regionFor(where),
    endpoint: where.endpoint,
    credentials: localCredentials(where.endpoint),
  });
  let outputs: Record<string, string>;
  try {
    const answer = await client.send(new DescribeStacksCommand({ StackName: stack }));
    outputs = Object.fromEntries(
      (answer.Stacks?.[0]?.Outputs ?? []).map((output) => [output.OutputKey ?? "", output.OutputValue ?? ""]),
    );
  } catch (error) {
    throw new SquallError(
      `Could not read stack '${stack}' (${(error as Error).message}). Deploy it with \`npx cdk deploy\`, or check the region and credentials.`,
      { cause: error },
    );
  } finally {
    client.destroy();
  }
  return checkAddress(
    {
      region: where.region,
      endpoint: where.endpoint,
      taskQueueUrl: outputs[STACK_OUTPUTS.taskQueueUrl] as string,
      completionQueueUrl: outputs[STACK_OUTPUTS.completionQueueUrl] as string,
      bucket: outputs[STACK_OUTPUTS.bucket] as string,
      // Stacks deployed before this output existed lack it: their tasks are not checked.
      workerTimeoutSeconds: seconds(
        outputs[STACK_OUTPUTS.workerTimeoutSeconds],
        `output ${STACK_OUTPUTS.workerTimeoutSeconds} of stack '${stack}'`,
      ),
      callerSilenceSeconds: seconds(
        outputs[STACK_OUTPUTS.callerSilenceSeconds],
        `output ${STACK_OUTPUTS.callerSilenceSeconds} of stack '${stack}'`,
        SILENCE,
      ),
      pools: poolsFromOutputs(outputs, stack),
      // Stacks deployed before the flow queue existed lack it: they start no durable runs.
      flowQueueUrl: outputs[STACK_OUTPUTS.flowQueueUrl] || undefined,
    },
    `the outputs of stack '${stack}'`,
  );
}

const TIMEOUT = "the worker function's timeout in seconds";
const SILENCE = "how long a caller may go silent, in seconds";

/** A number of seconds given as text (a variable, a stack output), or `undefined` when not given. */
function seconds(text: string | undefined, from: string, what = TIMEOUT): number | undefined {
  if (text === undefined || text === "") return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) {
    throw new InvalidArgumentError(`Expected ${from} to be ${what}, got \`${text}\`.`);
  }
  return value;
}

/** The pools a `SQUALL_POOLS` variable names, or `undefined` when it is not set. */
function poolsJson(text: string | undefined, from: string): Record<string, PoolAddress> | undefined {
  if (text === undefined || text === "") return undefined;
  try {
    return JSON.parse(text) as Record<string, PoolAddress>;
  } catch {
    throw new InvalidArgumentError(
      `Expected ${from} to be JSON naming the worker pools, e.g. {"large":{"taskQueueUrl":"https://...","workerTimeoutSeconds":900}}, got \`${text}\`.`,
    );
  }
}

/** The pools a stack's `Pool*` outputs name (one output a pool), or `undefined` for none. */
function poolsFromOutputs(
  outputs: Readonly<Record<string, string>>,
  stack: string,
): Record<string, PoolAddress> | undefined {
  const pools: Record<string, PoolAddress> = {};
  for (const [key, value] of Object.entries(outputs)) {
    if (!/^Pool[A-Z0-9]/.test(key)) continue;
    let pool: { name?: unknown; taskQueueUrl?: unknown; workerTimeoutSeconds?: unknown };
    try {
      pool = JSON.parse(value) as typeof pool;
    } catch {
      throw new InvalidArgumentError(
        `Expected output ${key} of stack '${stack}' to be JSON describing a worker pool, got \`${value}\`.`,
      );
    }
    const { name, taskQueueUrl, workerTimeoutSeconds } = pool;
    pools[String(name)] = { taskQueueUrl, workerTimeoutSeconds } as PoolAddress;
  }
  return Object.keys(pools).length > 0 ? pools : undefined;
}

/** The address, or a clear error naming what is missing and where it should have come from. */
export function checkAddress(address: SquallAddress, from = "the address"): SquallAddress {
  for (const field of ["taskQueueUrl", "completionQueueUrl", "bucket"] as const) {
    const value = address?.[field];
    if (typeof value !== "string" || value.length === 0) {
      throw new InvalidArgumentError(
        `Expected \`${field}\` in ${from}, got \`${String(value)}\`. Give taskQueueUrl, completionQueueUrl and bucket, or { stack }, or nothing for the local environment.`,
      );
    }
  }
  const timeout = address.workerTimeoutSeconds;
  if (timeout !== undefined && !(typeof timeout === "number" && Number.isFinite(timeout) && timeout > 0)) {
    throw new InvalidArgumentError(
      `Expected \`workerTimeoutSeconds\` in ${from} to be the worker function's timeout in seconds, got \`${String(timeout)}\``,
    );
  }
  const silence = address.callerSilenceSeconds;
  if (silence !== undefined && !(Number.isInteger(silence) && silence >= 1)) {
    throw new InvalidArgumentError(
      `Expected \`callerSilenceSeconds\` in ${from} to be ${SILENCE} (an integer >= 1), got \`${String(silence)}\``,
    );
  }
  checkPools(address.pools, from);
  const flowQueueUrl = address.flowQueueUrl;
  if (flowQueueUrl !== undefined && (typeof flowQueueUrl !== "string" || flowQueueUrl === "")) {
    throw new InvalidArgumentError(
      `Expected \`flowQueueUrl\` in ${from} to be the flow queue's URL, got \`${String(flowQueueUrl)}\``,
    );
  }
  if (address.endpoint !== undefined && !/^https?:\/\//.test(address.endpoint)) {
    throw new InvalidArgumentError(
      `Expected \`endpoint\` in ${from} to be an http(s) URL, got \`${address.endpoint}\``,
    );
  }
  return address;
}

function checkPools(pools: SquallAddress["pools"], from: string): void {
  if (pools === undefined) return;
  if (typeof pools !== "object" || pools === null || Array.isArray(pools)) {
    throw new InvalidArgumentError(
      `Expected \`pools\` in ${from} to be an object of worker pools by name, got \`${JSON.stringify(pools)}\``,
    );
  }
  for (const [name, pool] of Object.entries(pools)) {
    if (!POOL_NAME.test(name) || name === DEFAULT_POOL) {
      throw new InvalidArgumentError(
        `Expected each pool in ${from} to be named with lowercase letters, digits and \`-\`, starting with a letter, up to 32, and not \`${DEFAULT_POOL}\`, got \`${name}\``,
      );
    }
    if (typeof pool?.taskQueueUrl !== "string" || pool.taskQueueUrl === "") {
      throw new InvalidArgumentError(
        `Expected pool \`${name}\` in ${from} to have a \`taskQueueUrl\`, got \`${JSON.stringify(pool)}\``,
      );
    }
    const timeout = pool.workerTimeoutSeconds;
    if (timeout !== undefined && !(typeof timeout === "number" && Number.isFinite(timeout) && timeout > 0)) {
      throw new InvalidArgumentError(
        `Expected pool \`${name}\`'s \`workerTimeoutSeconds\` in ${from} to be its worker function's timeout in seconds, got \`${String(timeout)}\``,
      );
    }
  }
}

/**
 * S3 and SQS clients for an address; the caller owns them. Functions give them their
 * `retryStrategy` (`InvocationRetries`): otherwise the SDK's standard mode.
 */
export function clientsFor(
  address: SquallAddress,
  options: { readonly retryStrategy?: InvocationRetries } = {},
): { s3: S3Client; sqs: SQSClient } {
  const { endpoint } = address;
  const region = regionFor(address);
  const credentials = localCredentials(endpoint);
  const { retryStrategy } = options;
  const s3 = new S3Client({
    region,
    endpoint,
    credentials,
    forcePathStyle: endpoint !== undefined,
    retryStrategy,
  });
  // Emulators' queue URLs may name hosts that do not resolve: always call the endpoint.
  const sqs = new SQSClient({
    region,
    endpoint,
    credentials,
    useQueueUrlAsEndpoint: endpoint === undefined,
    retryStrategy,
  });
  return { s3, sqs };
}

/** An emulator answers in any region; the SDK still wants one. */
function regionFor(where: { readonly region?: string; readonly endpoint?: string }): string | undefined {
  return where.region ?? (where.endpoint !== undefined && !process.env.AWS_REGION ? "us-east-1" : undefined);
}

/**
 * Credentials for an emulator when none are configured (emulators take any), so that the
 * local environment and LocalStack need no AWS setup; otherwise the SDK's usual chain.
 */
function localCredentials(endpoint: string | undefined) {
  if (endpoint === undefined) return undefined;
  if (process.env.AWS_ACCESS_KEY_ID || process.env.AWS_PROFILE) return undefined;
  return { accessKeyId: "squall-local", secretAccessKey: "squall-local" };
}
