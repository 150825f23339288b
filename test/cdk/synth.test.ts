// One real `cdk synth` through the CLI, as `npm run synth` runs it: offline (no notices, version
// check or telemetry), bundling the three functions with the local esbuild (no Docker).
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { type Emulator, S3ResultStore, startEmulator } from "squall/aws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventSourcePoller, type PolledHandler } from "../../sdk/aws/local/poller.js";
import { SqsQueue } from "../../sdk/aws/queue.js";
import { readSegments, readSummary, summaryKey } from "../../sdk/aws/record/run-log.js";
import {
  type FlowReturned,
  type TaskMessage,
  WIRE_VERSION,
  type Outcome as WireOutcome,
} from "../../sdk/aws/wire/messages.js";
import { newRunKey } from "../../sdk/aws/wire/run-key.js";
import { type Channel, openEnvelope, seal, signedWith } from "../../sdk/aws/wire/seal.js";
import { moduleHash } from "../../sdk/registry.js";
import { type BundleProcess, startBundleProcess } from "../support/bundle-process.js";
import { TestSigner } from "../support/signing.js";
import { ROOT } from "./stack.js";

const scratch = mkdtempSync(join(tmpdir(), "squall-synth-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Outcome {
  readonly code: number;
  readonly stderr: string;
}

function cdkSynth(outdir: string): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(
      "npx",
      ["cdk", "synth", "--no-notices", "-q", "--output", outdir],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          CDK_HOME: join(scratch, "cdk-home"),
          CDK_DISABLE_VERSION_CHECK: "1",
          CDK_DISABLE_CLI_TELEMETRY: "true",
        },
        timeout: 170_000,
      },
      (error, _stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stderr });
      },
    );
  });
}

describe("cdk synth", () => {
  it("writes the template and the three bundled functions, offline and without Docker", async () => {
    const outdir = join(scratch, "cdk.out");

    const { code, stderr } = await cdkSynth(outdir);

    expect(code, stderr).toBe(0);
    expect(stderr).not.toMatch(/docker/i);
    const template = JSON.parse(readFileSync(join(outdir, "Squall.template.json"), "utf8"));
    const assets = Object.values(template.Resources as Record<string, { Type: string; Properties: never }>)
      .filter((resource) => resource.Type === "AWS::Lambda::Function")
      .map(({ Properties }: { Properties: { Code: { S3Key: string } } }) =>
        join(outdir, `asset.${Properties.Code.S3Key.replace(/\.zip$/, "")}`, "index.mjs"),
      );
    expect(assets).toHaveLength(3);
    for (const bundle of assets) expect(existsSync(bundle), bundle).toBe(true);

    const bundles = assets.map((path) => readFileSync(path, "utf8"));
    for (const bundle of bundles) {
      // An ES module that can still require() Node's built-ins, and names kept for tasks.
      expect(bundle.startsWith('import { createRequire as __squallCreateRequire } from "node:module"')).toBe(
        true,
      );
      expect(bundle).toMatch(/\b__name\(/);
      expect(bundle).toMatch(/^export \{[\s\S]*\bhandler\b[\s\S]*\};?\s*$/m);
    }
    // The worker and the flow-runner carry the flows module; the AWS SDK is bundled, not the runtime's.
    expect(bundles.filter((bundle) => bundle.includes("// examples/parallel-flow.ts"))).toHaveLength(2);
    // (esbuild names a package by its real path: `../<checkout>/node_modules/` where node_modules is linked.)
    for (const bundle of bundles)
      expect(bundle).toMatch(/^\/\/ (?:\.\.\/[^\n]*\/)?node_modules\/@aws-sdk\/client-s3\//m);
    // The embedded emulator stays out of the functions.
    for (const bundle of bundles)
      expect(bundle).not.toMatch(/^\/\/ (?:\.\.\/[^\n]*\/)?node_modules\/fauxqs\//m);

    const worker = Object.values(template.Resources as Record<string, FunctionResource>).find(
      (resource) =>
        resource.Type === "AWS::Lambda::Function" &&
        resource.Properties.Environment?.Variables?.SQUALL_BUNDLED_MODULES,
    );
    bundledWorker = {
      path: join(outdir, `asset.${worker?.Properties.Code.S3Key.replace(/\.zip$/, "")}`, "index.mjs"),
      bundled: worker?.Properties.Environment?.Variables?.SQUALL_BUNDLED_MODULES as string,
    };
    // The coordinator is the function told where the task dead-letter queue is.
    const coordinator = Object.values(template.Resources as Record<string, FunctionResource>).find(
      (resource) =>
        resource.Type === "AWS::Lambda::Function" &&
        resource.Properties.Environment?.Variables?.SQUALL_DEAD_LETTER_QUEUE_ARN,
    );
    expect(coordinator, "the coordinator function").toBeDefined();
    bundledCoordinator = join(
      outdir,
      `asset.${coordinator?.Properties.Code.S3Key.replace(/\.zip$/, "")}`,
      "index.mjs",
    );
    expect(bundledCoordinator).not.toBe(bundledWorker.path);
    expect(readFileSync(bundledCoordinator, "utf8")).not.toContain("// examples/parallel-flow.ts");
    // The flow-runner is the function the FlowRunnerFunctionName output names.
    const flowRunnerId = template.Outputs?.FlowRunnerFunctionName?.Value?.Ref as string;
    const flowRunner = (template.Resources as Record<string, FunctionResource>)[flowRunnerId];
    expect(flowRunner?.Type, "the flow-runner function").toBe("AWS::Lambda::Function");
    bundledFlowRunner = {
      path: join(outdir, `asset.${flowRunner?.Properties.Code.S3Key.replace(/\.zip$/, "")}`, "index.mjs"),
      variables: flowRunner?.Properties.Environment?.Variables ?? {},
    };
    expect([bundledWorker.path, bundledCoordinator]).not.toContain(bundledFlowRunner.path);
  }, 180_000);

  it("writes a worker bundle that runs a task of the flows module against the embedded emulator", async () => {
    expect(bundledWorker, "the synth above must have passed").toBeDefined();
    const { path, bundled } = bundledWorker as { path: string; bundled: string };
    const emulator = await startEmulator();
    const s3 = emulator.s3Client();
    try {
      const id = randomUUID().slice(0, 8);
      await emulator.createBucket(`bundle-${id}`);
      const tasks = await emulator.createQueue(`tasks-${id}`);
      const completions = await emulator.createQueue(`completions-${id}`);
      // The run's key in the bundle's bucket, as its caller writes it before sending.
      const signer = new TestSigner(new S3ResultStore({ bucket: `bundle-${id}`, client: s3 }));
      // A task record as a caller running examples/parallel-flow.ts sends it.
      const module = pathToFileURL(join(ROOT, "examples/parallel-flow.ts")).href;
      const message: TaskMessage = {
        v: WIRE_VERSION,
        flowRunId: randomUUID(),
        flowRunName: "bundled-run",
        flowName: "greetings",
        tasks: [
          {
            taskRunId: "b0b0b0-1",
            taskRunName: "sayHello-0",
            task: "sayHello",
            module,
            codeHash: moduleHash(module) as string,
            attempt: 1,
            serializer: "default",
            args: { text: 'J["arthur"]' },
            logPrints: false,
            tags: [],
          },
        ],
      };
      const event = {
        Records: [
          {
            messageId: "m1",
            body: await signer.taskBody(message),
            attributes: { ApproximateReceiveCount: "1" },
          },
        ],
      };
      const { code, stdout, stderr } = await runBundle(path, event, {
        SQUALL_ENDPOINT: emulator.endpoint,
        SQUALL_REGION: emulator.region,
        SQUALL_TASK_QUEUE_URL: tasks,
        SQUALL_COMPLETION_QUEUE_URL: completions,
        SQUALL_BUCKET: `bundle-${id}`,
        SQUALL_BUNDLED_MODULES: bundled,
        AWS_ACCESS_KEY_ID: "squall-local",
        AWS_SECRET_ACCESS_KEY: "squall-local",
      });

      expect(code, stderr).toBe(0);
      expect(JSON.parse(stdout)).toEqual({ batchItemFailures: [] });
      const sqs = emulator.sqsClient();
      const received = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: completions, WaitTimeSeconds: 1 }),
      );
      sqs.destroy();
      // Signed with the run's key, for the completion queue.
      const body = received.Messages?.[0]?.Body ?? "";
      const envelope = openEnvelope(body);
      expect(envelope, `a signed message: ${body.slice(0, 80)}`).toBeDefined();
      const key = await signer.keyOf(message.flowRunId);
      expect(signedWith(key, "completions", envelope as NonNullable<typeof envelope>)).toBe(true);
      const [outcome] = JSON.parse(body).outcomes ?? [];
      expect(outcome).toMatchObject({ taskRunId: "b0b0b0-1", status: "completed" });
      expect(outcome.logs).toEqual([{ stream: "stdout", text: "hello arthur" }]);
    } finally {
      s3.destroy();
      await emulator.stop();
    }
  }, 60_000);

  // The three bundles as Lambda runs them, each in a Node process of its own with its synthesized
  // environment, the worker and coordinator fed from their queues as event source mappings feed them.
  it("writes a flow-runner bundle that runs a flow of the flows module to completion on the worker bundle", async () => {
    const { worker, coordinator, flowRunner } = synthesized();
    const emulator = await startEmulator();
    const id = randomUUID().slice(0, 8);
    const bucket = `flow-runner-${id}`;
    await emulator.createBucket(bucket);
    const tasks = await emulator.createQueue(`tasks-${id}`);
    const completions = await emulator.createQueue(`completions-${id}`);
    const flowQueue = await emulator.createQueue(`flows-${id}`);
    const sqs = emulator.sqsClient();
    const s3 = emulator.s3Client();
    const store = new S3ResultStore({ bucket, client: s3 });
    const address = {
      SQUALL_ENDPOINT: emulator.endpoint,
      SQUALL_REGION: emulator.region,
      SQUALL_TASK_QUEUE_URL: tasks,
      SQUALL_COMPLETION_QUEUE_URL: completions,
      SQUALL_BUCKET: bucket,
      AWS_ACCESS_KEY_ID: emulator.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: emulator.credentials.secretAccessKey,
    };
    const processes: BundleProcess[] = [];
    const pollers: EventSourcePoller[] = [];
    try {
      const [workers, coordinators, flowRunners] = await Promise.all([
        startBundleProcess(worker.path, {
          ...address,
          SQUALL_BUNDLED_MODULES: worker.bundled,
          AWS_LAMBDA_FUNCTION_NAME: "squall-worker",
        }),
        startBundleProcess(coordinator, { ...address, AWS_LAMBDA_FUNCTION_NAME: "squall-coordinator" }),
        startBundleProcess(flowRunner.path, {
          ...deployedEnvironment(flowRunner.variables, {
            ...address,
            SQUALL_STACK_NAME: "Squall",
            SQUALL_FLOW_QUEUE_URL: flowQueue,
          }),
          ...address,
          AWS_LAMBDA_FUNCTION_NAME: "squall-flow-runner",
        }),
      ]);
      processes.push(workers, coordinators, flowRunners);
      const feed = (queueUrl: string, fn: BundleProcess, batchingWindowMs: number) =>
        new EventSourcePoller({
          queue: new SqsQueue({ url: queueUrl, client: sqs }),
          eventSourceArn: `arn:aws:sqs:${emulator.region}:000000000000:${queueUrl.split("/").pop()}`,
          batchingWindowMs,
          handler: async (event) => {
            const invocation = await fn.invoke(event);
            if (!invocation.ok) throw new Error(invocation.error);
            return invocation.result as Awaited<ReturnType<PolledHandler>>;
          },
        });
      pollers.push(feed(tasks, workers, 0), feed(completions, coordinators, 20));
      for (const poller of pollers) poller.start();

      const answer = await flowRunners.invoke({ flow: "greetings", parameters: [["arthur", "trillian"]] });

      expect(answer, flowRunners.output()).toEqual({
        ok: true,
        result: {
          flowRunId: expect.stringMatching(/^[0-9a-f-]{36}$/),
          flowRunName: expect.any(String),
          flowName: "greetings",
          state: "Completed",
          result: null, // greetings returns nothing
        },
      });
      const { flowRunId } = (answer as { result: { flowRunId: string } }).result;
      const outcomes = (await readSegments(store, flowRunId, 0)).segments.flatMap(
        (segment) => segment.outcomes,
      );
      const ran = outcomes.map(({ status, logs }) => ({ status, logs }));
      expect(ran.sort((a, b) => JSON.stringify(a.logs).localeCompare(JSON.stringify(b.logs)))).toEqual(
        ["goodbye arthur", "goodbye trillian", "hello arthur", "hello trillian"].map((text) => ({
          status: "completed",
          logs: [{ stream: "stdout", text }],
        })),
      );
      // The flow-runner replayed its tasks' output, as a caller does.
      expect(flowRunners.output()).toContain("hello trillian\n");
    } finally {
      await Promise.all(pollers.map((poller) => poller.stop()));
      await Promise.all(processes.map((process) => process.stop()));
      sqs.destroy();
      s3.destroy();
      await emulator.stop();
    }
  }, 60_000);
});

interface FunctionResource {
  readonly Type: string;
  readonly Properties: {
    readonly Code: { readonly S3Key: string };
    readonly Environment?: { readonly Variables?: Record<string, unknown> };
  };
}

let bundledWorker: { path: string; bundled: string } | undefined;
let bundledCoordinator: string | undefined;
let bundledFlowRunner: { path: string; variables: Record<string, unknown> } | undefined;

/**
 * A function's environment as CloudFormation would resolve it: its literal variables as
 * synthesized, and the references (queues, bucket, region, stack name) as `resolved` gives them.
 * A reference not given fails the test, so that a variable added to the stack is looked at here.
 */
function deployedEnvironment(
  variables: Record<string, unknown>,
  resolved: Record<string, string>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(variables)) {
    if (typeof value === "string") env[name] = value;
    else if (resolved[name] !== undefined) env[name] = resolved[name];
    else throw new Error(`No value given for ${name}, a reference in the template: ${JSON.stringify(value)}`);
  }
  return env;
}

/** Imports the bundle in a Node process of its own, as Lambda's runtime does, and calls its handler once. */
function runBundle(
  path: string,
  event: unknown,
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const script = `const { handler } = await import(${JSON.stringify(pathToFileURL(path).href)});
process.stdout.write(JSON.stringify(await handler(${JSON.stringify(event)})));
process.exit(0);`;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--input-type=module", "-e", script],
      { env: { PATH: process.env.PATH ?? "", ...env }, timeout: 30_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

// Messages from someone who may send to the queues but holds no flow run's key, as the deployed
// functions meet them: the synthesized bundles, each invocation a Node process of its own against
// the embedded emulator. Nothing such a message says may run, be recorded or change a record.
describe("the synthesized bundles, sent forged messages", () => {
  const FLOWS = pathToFileURL(join(ROOT, "examples/parallel-flow.ts")).href;
  const DLQ_ARN = "arn:aws:sqs:us-east-1:000000000000:squall-tasks-dlq";
  const COMPLETIONS_ARN = "arn:aws:sqs:us-east-1:000000000000:squall-completions";
  const WORKER_STREAM = "2026/01/01/[$LATEST]0f1e2d3c4b5a69788796a5b4c3d2e1f0";
  let emulator: Emulator;
  let sqs: SQSClient;
  const owned: { destroy(): void }[] = [];

  beforeAll(async () => {
    emulator = await startEmulator();
    sqs = emulator.sqsClient();
    owned.push(sqs);
  });
  afterAll(async () => {
    for (const client of owned) client.destroy();
    await emulator?.stop();
  });

  /** A deployment of its own: bucket, queues, the callers' signer, and its two functions as processes. */
  async function deployment() {
    const { worker, coordinator } = synthesized();
    const id = randomUUID().slice(0, 8);
    const bucket = `forged-${id}`;
    await emulator.createBucket(bucket);
    const tasks = await emulator.createQueue(`tasks-${id}`);
    const completions = await emulator.createQueue(`completions-${id}`);
    const s3 = emulator.s3Client();
    owned.push(s3);
    const store = new S3ResultStore({ bucket, client: s3 });
    const address = {
      SQUALL_ENDPOINT: emulator.endpoint,
      SQUALL_REGION: emulator.region,
      SQUALL_TASK_QUEUE_URL: tasks,
      SQUALL_COMPLETION_QUEUE_URL: completions,
      SQUALL_BUCKET: bucket,
      AWS_ACCESS_KEY_ID: emulator.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: emulator.credentials.secretAccessKey,
    };
    return {
      tasks,
      completions,
      store,
      signer: new TestSigner(store),
      worker: (event: unknown) =>
        runBundle(worker.path, event, {
          ...address,
          SQUALL_BUNDLED_MODULES: worker.bundled,
          SQUALL_MAX_RECEIVE_COUNT: "3",
        }),
      coordinator: (event: unknown) =>
        runBundle(coordinator, event, {
          ...address,
          SQUALL_DEAD_LETTER_QUEUE_ARN: DLQ_ARN,
          SQUALL_OVERDUE_SECONDS: "3600",
        }),
    };
  }

  /** Every message on the queue now (each then hidden for a minute). */
  async function drain(queueUrl: string): Promise<string[]> {
    const bodies: string[] = [];
    for (let wait = 1; ; wait = 0) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: wait,
          VisibilityTimeout: 60,
        }),
      );
      if (Messages.length === 0) return bodies;
      bodies.push(...Messages.map((message) => message.Body ?? ""));
    }
  }

  /** A message as an SQS event source delivers it; `SenderId` is who sent it. */
  const delivered = (messageId: string, body: string, more: Record<string, unknown> = {}) => ({
    messageId,
    body,
    attributes: { ApproximateReceiveCount: "1", SenderId: "AROAMALLORY:mallory" },
    eventSourceARN: COMPLETIONS_ARN,
    ...more,
  });

  /** A task message running `sayHello(name)` of the flows module, as its caller would send it. */
  const hello = (flowRunId: string, taskRunId: string, name: string): TaskMessage => ({
    v: WIRE_VERSION,
    flowRunId,
    flowRunName: "bundled-run",
    flowName: "greetings",
    tasks: [
      {
        taskRunId,
        taskRunName: `sayHello-${name}`,
        task: "sayHello",
        module: FLOWS,
        codeHash: moduleHash(FLOWS) as string,
        attempt: 1,
        serializer: "default",
        args: { text: `J${JSON.stringify([name])}` },
        logPrints: false,
        tags: [],
      },
    ],
  });

  const outcomeOf = (
    flowRunId: string,
    taskRunId: string,
    status: WireOutcome["status"],
    value: string,
  ): WireOutcome => ({
    flowRunId,
    taskRunId,
    attempt: 1,
    status,
    serializer: "default",
    payload: { text: `J${JSON.stringify(value)}` },
    startedAt: 1_000,
    endedAt: 2_000,
    logs: [],
  });

  /** An outcome message, unsigned: `{ v, flowRunId, outcomes }`. */
  const outcomesJson = (flowRunId: string, outcomes: WireOutcome[]) =>
    JSON.stringify({ v: WIRE_VERSION, flowRunId, outcomes });

  /** The body a signed message covers, once its signature is checked with `key` for `channel`. */
  function opened(sealed: string | undefined, key: Uint8Array, channel: Channel) {
    const envelope = openEnvelope(sealed ?? "");
    expect(envelope, `a signed message: ${sealed?.slice(0, 80)}`).toBeDefined();
    expect(signedWith(key, channel, envelope as NonNullable<typeof envelope>)).toBe(true);
    return JSON.parse((envelope as NonNullable<typeof envelope>).body);
  }

  /** The rejection lines (EMF JSON) on stderr: which message, by which function, and why. */
  function rejected(stderr: string): { id: string; fn: string; reason: string }[] {
    const lines = stderr
      .split("\n")
      .filter((line) => line.includes('"RejectedMessages"'))
      .map(
        (line) =>
          JSON.parse(line) as {
            _aws: { CloudWatchMetrics: { Namespace: string; Metrics: { Name: string }[] }[] };
            Function: string;
            Reason: string;
            RejectedMessages: number;
            message: string;
          },
      );
    for (const line of lines) {
      expect(line.RejectedMessages).toBe(1);
      expect(line._aws.CloudWatchMetrics).toEqual([
        {
          Namespace: "squall",
          Dimensions: [["Function", "Reason"]],
          Metrics: [{ Name: "RejectedMessages", Unit: "Count" }],
        },
      ]);
      expect(line.message).toMatch(
        new RegExp(
          `^squall ${line.Function}: rejected message \\S+ sent by AROAMALLORY:mallory \\(${line.Reason}\\): `,
        ),
      );
    }
    return lines
      .map((line) => ({
        id: /rejected message (\S+)/.exec(line.message)?.[1] ?? "",
        fn: line.Function,
        reason: line.Reason,
      }))
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  it("worker: runs only the genuine message of a batch; unsigned, wrong-key and unknown-run messages run nothing", async () => {
    const d = await deployment();
    const run = randomUUID(); // started: its caller stored its key
    const key = await d.signer.keyOf(run);
    const stranger = randomUUID(); // never started: no key in the bucket
    const event = {
      Records: [
        delivered("a-unsigned", JSON.stringify(hello(run, "f0f0f0-1", "zaphod"))),
        delivered("b-forged", seal(newRunKey(), "tasks", JSON.stringify(hello(run, "f0f0f0-2", "eddie")))),
        delivered(
          "c-unknown",
          seal(newRunKey(), "tasks", JSON.stringify(hello(stranger, "f0f0f0-3", "slartibartfast"))),
        ),
        delivered("d-genuine", await d.signer.taskBody(hello(run, "b0b0b0-1", "arthur"))),
      ],
    };

    const { code, stdout, stderr } = await d.worker(event);

    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ batchItemFailures: [] });
    const sent = await drain(d.completions);
    expect(sent).toHaveLength(1);
    const message = opened(sent[0], key, "completions");
    expect(message).toMatchObject({ v: WIRE_VERSION, flowRunId: run });
    expect(message.outcomes).toHaveLength(1);
    expect(message.outcomes[0]).toMatchObject({
      flowRunId: run,
      taskRunId: "b0b0b0-1",
      attempt: 1,
      status: "completed",
      serializer: "default",
    });
    expect(message.outcomes[0].logs).toEqual([{ stream: "stdout", text: "hello arthur" }]);
    const everything = [stdout, stderr, ...sent].join("\n");
    for (const name of ["zaphod", "eddie", "slartibartfast"])
      expect(everything).not.toContain(`hello ${name}`);
    expect(await drain(d.tasks)).toEqual([]); // nothing retried or sent back
    expect(await d.store.list(`runs/${stranger}/`)).toEqual([]);
    expect(await d.store.list(`keys/${stranger}`)).toEqual([]);
    expect(rejected(stderr)).toEqual([
      { id: "a-unsigned", fn: "worker", reason: "unsigned" },
      { id: "b-forged", fn: "worker", reason: "forged" },
      { id: "c-unknown", fn: "worker", reason: "unknown-flow-run" },
    ]);
  }, 60_000);

  it("worker: imports no data: module an unsigned message names", async () => {
    const d = await deployment();
    const run = randomUUID();
    await d.signer.keyOf(run); // a running flow run: only the signature is missing
    const imported = join(scratch, `imported-${randomUUID()}`);
    const source = [
      'import { writeFileSync } from "node:fs";',
      `writeFileSync(${JSON.stringify(imported)}, "imported");`,
      'process.stdout.write("SQUALL-DATA-MODULE-RAN\\n");',
      'process.stderr.write("SQUALL-DATA-MODULE-RAN\\n");',
      "export const sayHello = () => {};",
    ].join("\n");
    const message = hello(run, "d0d0d0-1", "mallory");
    const forged = {
      ...message,
      tasks: [
        {
          ...message.tasks[0],
          module: `data:text/javascript,${encodeURIComponent(source)}`,
          codeHash: "0000000000000000",
        },
      ],
    };

    const { code, stdout, stderr } = await d.worker({
      Records: [delivered("data-module", JSON.stringify(forged))],
    });

    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ batchItemFailures: [] });
    expect(existsSync(imported)).toBe(false);
    expect(`${stdout}\n${stderr}`).not.toContain("SQUALL-DATA-MODULE-RAN");
    expect(`${stdout}\n${stderr}`).not.toContain("hello mallory");
    expect(await drain(d.completions)).toEqual([]); // not even a Failed outcome: the run is not the caller's
    expect(await drain(d.tasks)).toEqual([]);
    expect(rejected(stderr)).toEqual([{ id: "data-module", fn: "worker", reason: "unsigned" }]);
  }, 60_000);

  it("coordinator: records only the genuine outcome; unsigned, unknown-run and wrong-key messages leave no trace", async () => {
    const d = await deployment();
    const running = randomUUID();
    await d.signer.keyOf(running);
    const neverStarted = randomUUID();
    const genuine = outcomeOf(running, "c0c0c0-1", "completed", "hello");
    // Forgeries: the same task run failed first, a run nobody started, and a notice that would
    // end the running flow run Failed.
    const preempting = { ...outcomeOf(running, "c0c0c0-1", "failed", "forged"), endedAt: 1_500 };
    const notice = {
      v: WIRE_VERSION,
      flowRunId: running,
      returned: { flowRunId: running, flowName: "greetings", state: "Failed", tasks: 1, endedAt: 3_000 },
    };
    const event = {
      Records: [
        delivered("a-unsigned", outcomesJson(running, [preempting])),
        delivered(
          "b-unknown",
          seal(
            newRunKey(),
            "completions",
            outcomesJson(neverStarted, [outcomeOf(neverStarted, "c0c0c0-1", "completed", "ghost")]),
          ),
        ),
        delivered("c-notice", seal(newRunKey(), "completions", JSON.stringify(notice))),
        delivered("d-genuine", await d.signer.outcomesBody(running, [genuine], WORKER_STREAM)),
      ],
    };

    const { code, stdout, stderr } = await d.coordinator(event);

    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ batchItemFailures: [] });
    expect(await d.store.list(`runs/${neverStarted}/`)).toEqual([]);
    expect((await d.store.list(`runs/${running}/`)).sort()).toEqual([
      `runs/${running}/log/00000000`,
      summaryKey(running),
    ]);
    expect(await readSegments(d.store, running, 0)).toEqual({
      segments: [{ v: WIRE_VERSION, outcomes: [{ ...genuine, worker: WORKER_STREAM }] }],
      next: 1,
    });
    expect(await readSummary(d.store, running)).toEqual({
      v: WIRE_VERSION,
      nextSegment: 1,
      counts: { completed: 1, failed: 0, crashed: 0, cancelled: 0 },
      terminal: { ranges: { c0c0c0: [[1, 1]] }, others: [] },
    });
    // The genuine run, not final, is open for the sweep; no forgery opened one.
    expect(await d.store.list("open/")).toEqual([`open/${running}`]);
    expect(rejected(stderr)).toEqual([
      { id: "a-unsigned", fn: "coordinator", reason: "unsigned" },
      { id: "b-unknown", fn: "coordinator", reason: "unknown-flow-run" },
      { id: "c-notice", fn: "coordinator", reason: "forged" },
    ]);
  }, 60_000);

  it("coordinator: a finished run's record is not changed by forged outcomes or a replayed genuine one", async () => {
    const d = await deployment();
    const run = randomUUID();
    await d.signer.keyOf(run);
    const genuine = await d.signer.outcomesBody(run, [outcomeOf(run, "e0e0e0-1", "completed", "done")]);
    const returned: FlowReturned = {
      flowRunId: run,
      flowName: "greetings",
      state: "Completed",
      tasks: 1,
      endedAt: 3_000,
    };
    const finished = await d.coordinator({
      Records: [
        delivered("genuine-outcome", genuine),
        delivered("genuine-notice", await d.signer.returnedBody(returned)),
      ],
    });
    expect(finished.code, finished.stderr).toBe(0);
    expect(JSON.parse(finished.stdout)).toEqual({ batchItemFailures: [] });
    expect(rejected(finished.stderr)).toEqual([]);
    expect(await readSummary(d.store, run)).toMatchObject({ state: "Completed", nextSegment: 1 });
    const before = await d.store.read(summaryKey(run));
    if (!before || before === "unchanged") throw new Error("no summary was written");

    const { code, stdout, stderr } = await d.coordinator({
      Records: [
        delivered("a-unsigned", outcomesJson(run, [outcomeOf(run, "e0e0e0-2", "failed", "forged")])),
        delivered(
          "b-forged",
          seal(
            newRunKey(),
            "completions",
            outcomesJson(run, [outcomeOf(run, "e0e0e0-3", "crashed", "forged")]),
          ),
        ),
        delivered("c-replayed", genuine),
      ],
    });

    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ batchItemFailures: [] });
    const after = await d.store.read(summaryKey(run));
    if (!after || after === "unchanged") throw new Error("the summary is gone");
    expect(Buffer.from(after.bytes).equals(Buffer.from(before.bytes))).toBe(true);
    expect(after.etag).toBe(before.etag);
    expect((await readSegments(d.store, run, 0)).next).toBe(1); // no new segment
    expect((await d.store.list(`runs/${run}/`)).sort()).toEqual([
      `runs/${run}/log/00000000`,
      summaryKey(run),
    ]);
    expect(rejected(stderr)).toEqual([
      { id: "a-unsigned", fn: "coordinator", reason: "unsigned" },
      { id: "b-forged", fn: "coordinator", reason: "forged" },
    ]);
  }, 60_000);

  it("a message signed for one queue means nothing on the other", async () => {
    const d = await deployment();
    const run = randomUUID();
    const key = await d.signer.keyOf(run);
    const poison = hello(run, "a0a0a0-1", "marvin");

    // The run's own key, for the completion queue: not a task message the worker may run.
    const worker = await d.worker({
      Records: [delivered("task-for-completions", seal(key, "completions", JSON.stringify(poison)))],
    });
    expect(worker.code, worker.stderr).toBe(0);
    expect(JSON.parse(worker.stdout)).toEqual({ batchItemFailures: [] });
    expect(await drain(d.completions)).toEqual([]);
    expect(`${worker.stdout}\n${worker.stderr}`).not.toContain("hello marvin");
    expect(rejected(worker.stderr)).toEqual([{ id: "task-for-completions", fn: "worker", reason: "forged" }]);

    // On the coordinator's two queues: an outcome signed for the task queue, a dead-lettered task
    // message signed for the completion queue, and one unsigned; then a genuine dead letter.
    const coordinator = await d.coordinator({
      Records: [
        delivered(
          "a-outcome-for-tasks",
          seal(key, "tasks", outcomesJson(run, [outcomeOf(run, "a0a0a0-2", "completed", "forged")])),
        ),
        delivered("b-dead-letter-for-completions", seal(key, "completions", JSON.stringify(poison)), {
          eventSourceARN: DLQ_ARN,
          attributes: { ApproximateReceiveCount: "4", SenderId: "AROAMALLORY:mallory" },
        }),
        delivered("c-dead-letter-unsigned", JSON.stringify(hello(run, "a0a0a0-3", "marvin")), {
          eventSourceARN: DLQ_ARN,
          attributes: { ApproximateReceiveCount: "4", SenderId: "AROAMALLORY:mallory" },
        }),
        delivered("d-dead-letter-genuine", await d.signer.taskBody(hello(run, "a0a0a0-4", "marvin")), {
          eventSourceARN: DLQ_ARN,
          attributes: { ApproximateReceiveCount: "4", SenderId: "AROAMALLORY:mallory" },
        }),
      ],
    });
    expect(coordinator.code, coordinator.stderr).toBe(0);
    expect(JSON.parse(coordinator.stdout)).toEqual({ batchItemFailures: [] });
    const { segments } = await readSegments(d.store, run, 0);
    expect(segments).toHaveLength(1);
    expect(segments[0]?.outcomes).toHaveLength(1);
    expect(segments[0]?.outcomes[0]).toMatchObject({
      flowRunId: run,
      taskRunId: "a0a0a0-4",
      status: "crashed",
    });
    expect(rejected(coordinator.stderr)).toEqual([
      { id: "a-outcome-for-tasks", fn: "coordinator", reason: "forged" },
      { id: "b-dead-letter-for-completions", fn: "coordinator", reason: "forged" },
      { id: "c-dead-letter-unsigned", fn: "coordinator", reason: "unsigned" },
    ]);
  }, 60_000);
});

/** The bundles the synth above wrote (its test must have passed). */
function synthesized(): {
  worker: { path: string; bundled: string };
  coordinator: string;
  flowRunner: { path: string; variables: Record<string, unknown> };
} {
  expect(bundledWorker, "the synth above must have passed").toBeDefined();
  expect(bundledCoordinator, "the synth above must have passed").toBeDefined();
  expect(bundledFlowRunner, "the synth above must have passed").toBeDefined();
  return {
    worker: bundledWorker as { path: string; bundled: string },
    coordinator: bundledCoordinator as string,
    flowRunner: bundledFlowRunner as { path: string; variables: Record<string, unknown> },
  };
}
