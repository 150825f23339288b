// A deployed function: its configuration from the template and a pool of execution
// environments, at most `maxEnvironments` at once (Lambda would scale further; the harness runs on
// one machine). Each invocation gets an idle environment or a new one, as Lambda's do, and is
// recorded: where it came from, which environment ran it, and how it ended.
import { randomBytes, randomUUID } from "node:crypto";
import { dirname } from "node:path";
import { ExecutionEnvironment, type InvokeOutcome } from "./execution-environment.js";
import type { Credentials } from "./principals.js";

export interface FunctionConfig {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  readonly codeDir: string;
  readonly handler: string;
  readonly runtime: string;
  readonly timeoutSeconds: number;
  readonly memoryMb: number;
  /** The template's variables, resolved. */
  readonly environment: Readonly<Record<string, string>>;
  /** Its execution role's credentials, as Lambda puts them in the environment. */
  readonly credentials: Credentials;
  readonly region: string;
  /** Where its AWS SDK calls go: the emulator (as LocalStack points functions at itself). */
  readonly endpoint: string;
  readonly maxEnvironments: number;
  readonly freeze: boolean;
  readonly onLog?: (functionName: string, line: string) => void;
}

export type InvocationSource = "RequestResponse" | "Event" | "SQS";

export interface Invocation {
  readonly requestId: string;
  readonly source: InvocationSource;
  /** For Event invocations: 1 for the first, 2 and 3 for Lambda's retries. */
  readonly attempt: number;
  readonly logStreamName: string;
  readonly startedAt: number;
  endedAt?: number;
  /** For SQS invocations: each record's message id and receive count. */
  readonly records?: readonly { readonly messageId: string; readonly receiveCount: number }[];
  /** `ok`, or the error's type (`Sandbox.Timedout`, `FlowRunFailedError`...). */
  result?: string;
  /** The error's message, when it failed. */
  errorMessage?: string;
}

export class LambdaFunction {
  readonly config: FunctionConfig;
  readonly invocations: Invocation[] = [];
  readonly #logs: string[] = [];
  readonly #idle: ExecutionEnvironment[] = [];
  readonly #all = new Set<ExecutionEnvironment>();
  readonly #waiting: ((environment: ExecutionEnvironment) => void)[] = [];
  #stopped = false;

  constructor(config: FunctionConfig) {
    this.config = config;
  }

  /** Its log lines so far, from every environment, in arrival order. */
  logs(): string {
    return this.#logs.join("\n");
  }

  /** Runs one invocation in an idle environment, or a new one when none is idle and the cap allows. */
  async invoke(
    event: unknown,
    source: InvocationSource,
    attempt = 1,
  ): Promise<InvokeOutcome & { requestId: string }> {
    const environment = await this.#take();
    const requestId = randomUUID();
    const record: Invocation = {
      requestId,
      source,
      attempt,
      logStreamName: environment.logStreamName,
      startedAt: Date.now(),
      ...(source === "SQS" && { records: recordsOf(event) }),
    };
    this.invocations.push(record);
    const { config } = this;
    const outcome = await environment.invoke(requestId, event, config.timeoutSeconds * 1000, {
      awsRequestId: requestId,
      functionName: config.name,
      functionVersion: "$LATEST",
      invokedFunctionArn: config.arn,
      memoryLimitInMB: String(config.memoryMb),
      logGroupName: `/aws/lambda/${config.name}`,
      logStreamName: environment.logStreamName,
    });
    record.endedAt = Date.now();
    record.result = outcome.ok ? "ok" : outcome.error.errorType;
    if (!outcome.ok) record.errorMessage = outcome.error.errorMessage;
    this.#give(environment);
    return { ...outcome, requestId };
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all([...this.#all].map((environment) => environment.stop()));
  }

  async #take(): Promise<ExecutionEnvironment> {
    if (this.#stopped) throw new Error(`${this.config.logicalId} is stopped`);
    for (let environment = this.#idle.pop(); environment; environment = this.#idle.pop()) {
      if (environment.alive) return environment;
      this.#all.delete(environment);
    }
    if (this.#all.size < this.config.maxEnvironments) return this.#start();
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  #give(environment: ExecutionEnvironment): void {
    if (!environment.alive) {
      this.#all.delete(environment);
      const next = this.#waiting.shift();
      if (next && !this.#stopped) next(this.#start());
      return;
    }
    const next = this.#waiting.shift();
    if (next) next(environment);
    else this.#idle.push(environment);
  }

  #start(): ExecutionEnvironment {
    const { config } = this;
    const stream = logStreamName();
    const environment = new ExecutionEnvironment(
      {
        codeDir: config.codeDir,
        memoryMb: config.memoryMb,
        freeze: config.freeze,
        env: {
          ...config.environment,
          ...lambdaVariables(config, stream),
        },
        onLog: (line) => {
          this.#logs.push(line);
          config.onLog?.(config.name, line);
        },
      },
      stream,
    );
    this.#all.add(environment);
    return environment;
  }
}

/** The variables Lambda sets in every environment (they override the template's, which may not set them). */
function lambdaVariables(config: FunctionConfig, stream: string): Record<string, string> {
  const { credentials } = config;
  return {
    AWS_REGION: config.region,
    AWS_DEFAULT_REGION: config.region,
    AWS_EXECUTION_ENV: `AWS_Lambda_${config.runtime}`,
    AWS_LAMBDA_FUNCTION_NAME: config.name,
    AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(config.memoryMb),
    AWS_LAMBDA_INITIALIZATION_TYPE: "on-demand",
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${config.name}`,
    AWS_LAMBDA_LOG_STREAM_NAME: stream,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    ...(credentials.sessionToken && { AWS_SESSION_TOKEN: credentials.sessionToken }),
    AWS_ENDPOINT_URL: config.endpoint,
    // Lambda has no shared AWS config or credentials files; nor does an environment here.
    AWS_CONFIG_FILE: "/dev/null",
    AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
    LAMBDA_TASK_ROOT: config.codeDir,
    LAMBDA_RUNTIME_DIR: dirname(process.execPath),
    _HANDLER: config.handler,
    TZ: ":UTC",
    LANG: "en_US.UTF-8",
    PATH: `${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`,
  };
}

function recordsOf(event: unknown): Invocation["records"] {
  const records = (
    event as { Records?: { messageId: string; attributes: { ApproximateReceiveCount: string } }[] }
  ).Records;
  return (records ?? []).map((record) => ({
    messageId: record.messageId,
    receiveCount: Number(record.attributes.ApproximateReceiveCount),
  }));
}

/** A name like Lambda's log stream names: `2026/11/27/[$LATEST]` and 32 hex digits. */
function logStreamName(): string {
  const day = new Date().toISOString().slice(0, 10).replaceAll("-", "/");
  return `${day}/[$LATEST]${randomBytes(16).toString("hex")}`;
}
