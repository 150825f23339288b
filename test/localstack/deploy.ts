// Deploys squall's AWS side to LocalStack as a stack would: the bucket, the task queue with its
// dead-letter queue, the completion queue, the worker and coordinator functions (bundled with
// esbuild, the worker carrying a flows module) and their event source mappings.
import { randomUUID } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import {
  CreateEventSourceMappingCommand,
  CreateFunctionCommand,
  GetEventSourceMappingCommand,
  LambdaClient,
  type Runtime,
  waitUntilFunctionActiveV2,
} from "@aws-sdk/client-lambda";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { build } from "esbuild";
import { zipSync } from "fflate";
import { BUNDLE_TARGET, FUNCTION_RUNTIME } from "../../cdk/constructs/squall-function.js";
import { ADDRESS_VARIABLES } from "../../sdk/aws/address.js";
import { BUNDLED_MODULES_VARIABLE, DEAD_LETTER_ARN_VARIABLE } from "../../sdk/aws/handlers.js";
import { moduleHash } from "../../sdk/registry.js";
import { sleep } from "../support/async.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** Generated entries and the bundles built from them, kept to look into (gitignored). */
const GENERATED = fileURLToPath(new URL("./.generated/", import.meta.url));

/** LocalStack takes any credentials; these put everything in its default account, 000000000000. */
export const LOCALSTACK_CREDENTIALS = { accessKeyId: "test", secretAccessKey: "test" } as const;

export interface DeployOptions {
  /** LocalStack as this process reaches it, e.g. `http://localhost:32768`. */
  readonly endpoint: string;
  /** LocalStack as the functions reach it from their containers: their `SQUALL_ENDPOINT`. */
  readonly functionEndpoint: string;
  /** The flows module the worker bundle carries, relative to the repository root. */
  readonly flows: string;
  /** @default "x86_64" */
  readonly architecture?: "arm64" | "x86_64";
  /** @default "us-east-1" */
  readonly region?: string;
}

export interface Deployment {
  /** The `SQUALL_*` variables that point a caller on this machine at the deployment. */
  readonly env: Readonly<Record<string, string>>;
  readonly deadLetterQueueUrl: string;
  readonly functions: { readonly worker: string; readonly coordinator: string };
}

/** Deliveries of a task message before it goes to the dead-letter queue. */
const MAX_RECEIVE_COUNT = 10;

/** How long an invocation may run; the queues that feed the functions hide a message six times that. */
const FUNCTION_TIMEOUT_SECONDS = 30;

/**
 * Deploys the bucket, the queues, the two functions and their event source mappings, and returns
 * once the functions are Active and the mappings Enabled.
 */
export async function deploy(options: DeployOptions): Promise<Deployment> {
  const region = options.region ?? "us-east-1";
  const { endpoint } = options;
  const config = { region, endpoint, credentials: LOCALSTACK_CREDENTIALS };
  const s3 = new S3Client({ ...config, forcePathStyle: true });
  const sqs = new SQSClient({ ...config, useQueueUrlAsEndpoint: false });
  const lambda = new LambdaClient(config);
  try {
    const id = randomUUID().slice(0, 8);
    const bucket = `squall-${id}`;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));

    const queueArn = async (url: string) => {
      const answer = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["QueueArn"] }),
      );
      const arn = answer.Attributes?.QueueArn;
      if (!arn) throw new Error(`LocalStack gave no ARN for queue ${url}`);
      return arn;
    };
    const createQueue = async (name: string, attributes: Record<string, string> = {}) => {
      const { QueueUrl } = await sqs.send(
        new CreateQueueCommand({ QueueName: name, Attributes: attributes }),
      );
      if (!QueueUrl) throw new Error(`LocalStack gave no URL for queue ${name}`);
      return { url: QueueUrl, arn: await queueArn(QueueUrl) };
    };
    const visibility = String(6 * FUNCTION_TIMEOUT_SECONDS); // longer than an invocation, as Lambda wants
    const deadLetters = await createQueue(`squall-tasks-dlq-${id}`);
    const tasks = await createQueue(`squall-tasks-${id}`, {
      VisibilityTimeout: visibility,
      RedrivePolicy: JSON.stringify({
        deadLetterTargetArn: deadLetters.arn,
        maxReceiveCount: MAX_RECEIVE_COUNT,
      }),
    });
    const completions = await createQueue(`squall-completions-${id}`, { VisibilityTimeout: visibility });

    const address = (at: string): Record<string, string> => ({
      [ADDRESS_VARIABLES.region]: region,
      [ADDRESS_VARIABLES.endpoint]: at,
      [ADDRESS_VARIABLES.taskQueueUrl]: tasks.url,
      [ADDRESS_VARIABLES.completionQueueUrl]: completions.url,
      [ADDRESS_VARIABLES.bucket]: bucket,
    });
    const [workerZip, coordinatorZip] = await Promise.all([
      bundle("worker", await workerEntry(options.flows)),
      bundle("coordinator", join(ROOT, "functions/coordinator.ts")),
    ]);
    const functions = { worker: `squall-worker-${id}`, coordinator: `squall-coordinator-${id}` };
    const create = async (name: string, zip: Uint8Array, env: Record<string, string>) => {
      await lambda.send(
        new CreateFunctionCommand({
          FunctionName: name,
          Runtime: FUNCTION_RUNTIME.name as Runtime,
          Handler: "index.handler",
          Role: "arn:aws:iam::000000000000:role/squall-function", // LocalStack does not check it
          Architectures: [options.architecture ?? "x86_64"],
          MemorySize: 1024,
          Timeout: FUNCTION_TIMEOUT_SECONDS,
          Code: { ZipFile: zip },
          Environment: { Variables: env },
        }),
      );
      // The first function of a run waits for LocalStack to pull the runtime's image.
      await waitUntilFunctionActiveV2({ client: lambda, maxWaitTime: 600 }, { FunctionName: name });
    };
    const bundled = JSON.stringify({ [options.flows]: bundledHash(options.flows) });
    await Promise.all([
      create(functions.worker, workerZip, {
        ...address(options.functionEndpoint),
        [BUNDLED_MODULES_VARIABLE]: bundled,
        // The worker's cue to give up a run whose invocations keep dying (sdk/aws/handlers.ts).
        SQUALL_MAX_DEATHS: "3",
      }),
      create(functions.coordinator, coordinatorZip, {
        ...address(options.functionEndpoint),
        [DEAD_LETTER_ARN_VARIABLE]: deadLetters.arn,
      }),
    ]);

    const feed = async (queue: { arn: string }, functionName: string, batchingWindowSeconds: number) => {
      const { UUID } = await lambda.send(
        new CreateEventSourceMappingCommand({
          EventSourceArn: queue.arn,
          FunctionName: functionName,
          BatchSize: 10,
          MaximumBatchingWindowInSeconds: batchingWindowSeconds,
          FunctionResponseTypes: ["ReportBatchItemFailures"],
        }),
      );
      if (!UUID) throw new Error(`LocalStack gave no id for the mapping ${queue.arn} -> ${functionName}`);
      await enabled(lambda, UUID);
    };
    await Promise.all([
      feed(tasks, functions.worker, 0),
      feed(completions, functions.coordinator, 1),
      feed(deadLetters, functions.coordinator, 0),
    ]);

    return { env: address(endpoint), deadLetterQueueUrl: deadLetters.url, functions };
  } finally {
    s3.destroy();
    sqs.destroy();
    lambda.destroy();
  }
}

/**
 * The worker's entry: the worker handler, with the flows module loaded (started, not awaited)
 * by a literal `import()` that esbuild bundles. A `.mjs` file, so that the type checker, which
 * would refuse its `.ts` specifiers, leaves it alone.
 */
async function workerEntry(flows: string): Promise<string> {
  await mkdir(GENERATED, { recursive: true });
  const path = join(GENERATED, "worker-entry.mjs");
  const handlers = join(ROOT, "sdk/aws/handlers.ts");
  const module = join(ROOT, flows);
  await writeFile(
    path,
    `// Generated by test/localstack/deploy.ts: the worker function's entry, carrying ${flows}.\n` +
      `import { workerHandler } from ${JSON.stringify(handlers)};\n\n` +
      `export const handler = workerHandler({ flows: () => import(${JSON.stringify(module)}) });\n`,
  );
  return path;
}

/**
 * Bundles an entry, the AWS SDK included, into one ES module for the functions' Node and zips it as
 * `index.mjs`. Names are kept: tasks are found by their functions' names, which esbuild would
 * otherwise rename where two bindings share one (`sayHello` becoming `sayHello2`).
 */
async function bundle(name: string, entry: string): Promise<Uint8Array> {
  const outfile = join(GENERATED, name, "index.mjs");
  const result = await build({
    entryPoints: [entry],
    outfile,
    absWorkingDir: ROOT,
    tsconfig: join(ROOT, "tsconfig.json"), // its paths map "squall" and "squall/aws" to the source
    bundle: true,
    platform: "node",
    format: "esm",
    target: BUNDLE_TARGET,
    keepNames: true,
    // CommonJS dependencies bundled into an ES module still call require() for Node's built-ins.
    banner: {
      js: 'import { createRequire as __squallCreateRequire } from "node:module"; const require = __squallCreateRequire(import.meta.url);',
    },
    logLevel: "error",
    write: false,
  });
  const output = result.outputFiles[0];
  if (!output) throw new Error(`esbuild wrote nothing for ${entry}`);
  await mkdir(join(GENERATED, name), { recursive: true });
  await writeFile(outfile, output.contents);
  return zipSync({ "index.mjs": output.contents }, { level: 6 });
}

/** The hash the worker compares with the caller's: that of the source the bundle was built from. */
function bundledHash(flows: string): string {
  const hash = moduleHash(pathToFileURL(join(ROOT, flows)).href);
  if (!hash) throw new Error(`Cannot read ${flows} to hash it`);
  return hash;
}

/** Waits for an event source mapping to be Enabled: until then it delivers nothing. */
async function enabled(lambda: LambdaClient, uuid: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const { State } = await lambda.send(new GetEventSourceMappingCommand({ UUID: uuid }));
    if (State === "Enabled") return;
    if (Date.now() > deadline) throw new Error(`Event source mapping ${uuid} is still ${State} after 120 s`);
    await sleep(500);
  }
}
