// Deploys a synthesized stack onto the embedded emulator, as CloudFormation would deploy it on
// AWS: its queues (visibility timeouts, redrive to dead-letter queues) and bucket created with
// generated names; its functions run from their synthesized code as separate processes, with
// their timeouts, memory, environment (references resolved to what was created) and roles; its
// event source mappings polling their queues; Lambda's Invoke API and CloudFormation's
// DescribeStacks served on the emulator's endpoint; and AWS's limits enforced in front of it all,
// each of which a test may switch off.
import { randomUUID } from "node:crypto";
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Emulator } from "../../../sdk/aws/emulator.js";
import { INTERNAL_HEADER } from "../../../sdk/aws/local/faults.js";
import { AsyncInvoker, type AsyncSettings, LAMBDA_ASYNC_DEFAULTS } from "./async-invoker.js";
import { type AwsCall, describeCall } from "./aws-request.js";
import { type DescribedStack, installCloudFormationApi } from "./cloudformation-api.js";
import { startEmulatorWith } from "./emulator-app.js";
import { EventSourcePoller } from "./event-source-poller.js";
import { type Denial, installIam } from "./iam-layer.js";
import { type PhysicalResource, type ResolveContext, resolveString } from "./intrinsics.js";
import { installInvokeApi } from "./invoke-api.js";
import { LambdaFunction } from "./lambda-function.js";
import { effectiveLimits, type Limits } from "./limits.js";
import { type LostResponseRule, LostResponses } from "./lost-responses.js";
import { type Place, stackArn } from "./physical-names.js";
import {
  type Credentials,
  callerStatements,
  newCredentials,
  type PolicyDocument,
  Principals,
  policyStatements,
  roleStatements,
} from "./principals.js";
import { waitForQuiet } from "./quiescence.js";
import { installSqsLimits } from "./sqs-limits.js";
import { createBuckets, createQueues, nameResources, type QueueInfo } from "./stack-resources.js";
import { type MappingSpec, readStackTemplate, type StackTemplate } from "./template.js";
import { type ThrottleRule, Throttles } from "./throttles.js";

export type { Limits } from "./limits.js";
export type { QueueInfo } from "./stack-resources.js";

export interface DeployOptions {
  /** The cdk.out folder `cdk synth` wrote. */
  readonly cloudAssembly: string;
  /** @default "Squall" */
  readonly stackName?: string;
  /** @default every limit on */
  readonly limits?: Limits;
  /** The laptop caller's rights when the template has no SquallCaller managed policy. */
  readonly callerPolicy?: PolicyDocument;
  /** Replaces every queue's VisibilityTimeout (the template's are minutes), for tests of redelivery. */
  readonly visibilityTimeoutSeconds?: number;
  /** Waits before Lambda's retries of a failed Event invocation. @default one, then two minutes */
  readonly asyncRetryDelaysMs?: readonly number[];
  /** Execution environments per function at most. @default 2 */
  readonly maxEnvironments?: number;
  /** Freeze environments between invocations, as Lambda does. @default true */
  readonly freeze?: boolean;
  /** Print the functions' log lines as they come. @default SQUALL_HARNESS_LOGS=1 */
  readonly echoLogs?: boolean;
}

export interface DeployedStack {
  readonly name: string;
  readonly endpoint: string;
  readonly region: string;
  readonly accountId: string;
  /** The stack's outputs, resolved, as DescribeStacks answers them. */
  readonly outputs: Readonly<Record<string, string>>;
  readonly template: StackTemplate;
  /** By logical id. */
  readonly queues: ReadonlyMap<string, QueueInfo>;
  readonly buckets: ReadonlyMap<string, string>;
  readonly functions: ReadonlyMap<string, LambdaFunction>;
  /** The function of that logical id, or the one whose logical id starts with it (e.g. "SquallWorkerFunction"). */
  fn(prefix: string): LambdaFunction;
  /** Its queue of Event invocations. */
  asyncOf(fn: LambdaFunction): AsyncInvoker;
  /**
   * New credentials with the laptop caller's rights (or `policy`'s instead), named `caller <name>`
   * in denials.
   */
  caller(name?: string, policy?: PolicyDocument): Credentials;
  /** Where the caller's rights came from. */
  readonly callerPolicySource: string;
  /** Every request IAM refused, in order. */
  readonly denials: readonly Denial[];
  /** Every SQS call (or batch entry) refused for a limit: the operation and the error's code. */
  readonly refusals: readonly { readonly operation: string; readonly code: string }[];
  /** Throttle picked messages: their batches are received and let go without an invocation. */
  throttle(rule: ThrottleRule): void;
  readonly throttles: Throttles;
  /** Lose the answers of picked requests after they took effect. */
  loseResponses(rule: LostResponseRule): void;
  readonly lostResponses: LostResponses;
  /** Clients with every right, for a test's own look at the queues and bucket. */
  readonly admin: { readonly s3: S3Client; readonly sqs: SQSClient; readonly credentials: Credentials };
  /**
   * Waits until the deployment has nothing left to do (no Event invocation queued, no message on a
   * polled queue, no invocation under way); false if it is still busy at `timeoutMs`.
   */
  quiet(timeoutMs?: number): Promise<boolean>;
  /** Switches limits from now on. */
  setLimits(limits: Limits): void;
  stop(): Promise<void>;
}

const REGION = "us-east-1";
/** The emulator's account: its queue URLs and ARNs carry it. */
const ACCOUNT_ID = "000000000000";

export async function deployStack(options: DeployOptions): Promise<DeployedStack> {
  const stackName = options.stackName ?? "Squall";
  const stack = readStackTemplate(options.cloudAssembly, stackName);
  const place: Place = { stackName, region: REGION, accountId: ACCOUNT_ID };
  const stackId = stackArn(place, randomUUID());
  let limits = effectiveLimits(options.limits ?? {});

  const principals = new Principals();
  const adminCredentials = newCredentials("AKIA");
  principals.add({
    name: "harness",
    arn: `arn:aws:iam::${ACCOUNT_ID}:root`,
    credentials: adminCredentials,
    statements: "all",
  });
  const denials: Denial[] = [];
  const refusals: { operation: string; code: string }[] = [];
  const throttles = new Throttles();
  const lostResponses = new LostResponses();
  const targets = new Map<string, { fn: LambdaFunction; async: AsyncInvoker }>();
  const described: { stack: DescribedStack } = { stack: { name: stackName, id: stackId, outputs: {} } };

  const calls = new WeakMap<FastifyRequest, AwsCall>();
  const context = {
    accountId: ACCOUNT_ID,
    defaultRegion: REGION,
    stackArn: (name: string) => (name === stackName ? stackId : stackArn({ ...place, stackName: name }, "*")),
  };
  const callOf = (request: FastifyRequest) => {
    let call = calls.get(request);
    if (!call) {
      call = describeCall(request, context);
      calls.set(request, call);
    }
    return call;
  };
  // The emulator's requests to itself (the steps of a conditional write) were checked as the request they serve.
  const passes = (request: FastifyRequest) => request.headers[INTERNAL_HEADER] !== undefined;

  const emulator: Emulator = await startEmulatorWith((app: FastifyInstance) => {
    installIam(app, {
      principals,
      callOf,
      passes,
      enabled: () => limits.iam,
      onDenial: (denial) => denials.push(denial),
    });
    installSqsLimits(app, {
      callOf,
      passes,
      limits: () => limits.sqs,
      onRefusal: (operation, code) => refusals.push({ operation, code }),
    });
    installCloudFormationApi(app, {
      callOf,
      passes,
      get stack() {
        return described.stack;
      },
    });
    installInvokeApi(app, {
      callOf,
      passes,
      functionNamed: (name) => targets.get(name),
      limits: () => limits.lambdaPayloads,
    });
    lostResponses.install(app, callOf, passes);
  });

  const admin = {
    credentials: adminCredentials,
    s3: new S3Client({
      endpoint: emulator.endpoint,
      region: REGION,
      credentials: adminCredentials,
      forcePathStyle: true,
    }),
    sqs: new SQSClient({
      endpoint: emulator.endpoint,
      region: REGION,
      credentials: adminCredentials,
      useQueueUrlAsEndpoint: false,
    }),
  };
  const functions = new Map<string, LambdaFunction>();
  const asyncInvokers = new Map<LambdaFunction, AsyncInvoker>();
  const pollers: EventSourcePoller[] = [];
  const clients: { destroy(): void }[] = [admin.s3, admin.sqs];
  try {
    const resources = new Map<string, PhysicalResource>();
    const resolveContext: ResolveContext = {
      resources,
      pseudo: {
        "AWS::Region": REGION,
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::StackName": stackName,
        "AWS::StackId": stackId,
        "AWS::NoValue": "",
      },
    };
    nameResources(stack, place, resources);
    const buckets = await createBuckets(stack, place, resources, admin.s3);
    const queues = await createQueues(
      stack,
      place,
      resources,
      resolveContext,
      admin.sqs,
      options.visibilityTimeoutSeconds,
    );

    // Each function's role, with the policies the template attaches to it.
    const roleCredentials = new Map<string, Credentials>();
    for (const spec of stack.functions) {
      const credentials = newCredentials();
      const roleName = spec.roleLogicalId
        ? (resources.get(spec.roleLogicalId)?.ref ?? spec.roleLogicalId)
        : "none";
      const functionName = resources.get(spec.logicalId)?.ref ?? spec.logicalId;
      principals.add({
        name: spec.logicalId,
        arn: `arn:aws:sts::${ACCOUNT_ID}:assumed-role/${roleName}/${functionName}`,
        credentials,
        statements: spec.roleLogicalId ? roleStatements(stack, spec.roleLogicalId, resolveContext) : [],
      });
      roleCredentials.set(spec.logicalId, credentials);
    }
    const caller = callerStatements(stack, resolveContext, options.callerPolicy);

    const echo = options.echoLogs ?? process.env.SQUALL_HARNESS_LOGS === "1";
    for (const spec of stack.functions) {
      const name = resources.get(spec.logicalId)?.ref as string;
      const environment = Object.fromEntries(
        Object.entries(spec.environment).map(([key, value]) => [key, resolveString(value, resolveContext)]),
      );
      const fn = new LambdaFunction({
        logicalId: spec.logicalId,
        name,
        arn: resources.get(spec.logicalId)?.attributes.Arn as string,
        codeDir: spec.codeDir,
        handler: spec.handler,
        runtime: spec.runtime,
        timeoutSeconds: spec.timeoutSeconds,
        memoryMb: spec.memoryMb,
        environment,
        credentials: roleCredentials.get(spec.logicalId) as Credentials,
        region: REGION,
        endpoint: emulator.endpoint,
        maxEnvironments: options.maxEnvironments ?? 2,
        freeze: options.freeze ?? true,
        onLog: echo ? (fnName, line) => process.stderr.write(`[${fnName}] ${line}\n`) : undefined,
      });
      functions.set(spec.logicalId, fn);
      const config = stack.invokeConfigs.find((candidate) => candidate.functionLogicalId === spec.logicalId);
      const async = new AsyncInvoker(
        fn,
        (): AsyncSettings => ({
          maximumRetryAttempts: limits.asyncRetries
            ? (config?.maximumRetryAttempts ?? LAMBDA_ASYNC_DEFAULTS.maximumRetryAttempts)
            : 0,
          maximumEventAgeSeconds:
            config?.maximumEventAgeSeconds ?? LAMBDA_ASYNC_DEFAULTS.maximumEventAgeSeconds,
          retryDelaysMs: options.asyncRetryDelaysMs ?? LAMBDA_ASYNC_DEFAULTS.retryDelaysMs,
        }),
      );
      asyncInvokers.set(fn, async);
      targets.set(name, { fn, async });
    }

    for (const mapping of stack.mappings) {
      const fn = functions.get(mapping.functionLogicalId);
      const queue = queues.get(mapping.queueLogicalId);
      if (!fn || !queue) throw new Error(`${mapping.logicalId}: its function or queue is not in the stack`);
      if (options.visibilityTimeoutSeconds === undefined) checkVisibility(stack, mapping, fn);
      const sqs = new SQSClient({
        endpoint: emulator.endpoint,
        region: REGION,
        credentials: fn.config.credentials,
        useQueueUrlAsEndpoint: false,
      });
      clients.push(sqs);
      const poller = new EventSourcePoller({
        mapping,
        queueUrl: queue.url,
        queueArn: queue.arn,
        region: REGION,
        target: fn,
        sqs,
        throttles,
      });
      pollers.push(poller);
      poller.start();
    }

    const outputs = Object.fromEntries(
      Object.entries(stack.template.Outputs ?? {}).map(([key, output]) => [
        key,
        resolveString(output.Value, resolveContext),
      ]),
    );
    described.stack = {
      name: stackName,
      id: stackId,
      outputs: Object.fromEntries(
        Object.entries(stack.template.Outputs ?? {}).map(([key, output]) => [
          key,
          { value: outputs[key] as string, description: output.Description },
        ]),
      ),
    };

    let callers = 0;
    let stopped: Promise<void> | undefined;
    return {
      name: stackName,
      endpoint: emulator.endpoint,
      region: REGION,
      accountId: ACCOUNT_ID,
      outputs,
      template: stack,
      queues,
      buckets,
      functions,
      fn(prefix) {
        const exact = functions.get(prefix);
        if (exact) return exact;
        const found = [...functions].filter(([logicalId]) => logicalId.startsWith(prefix));
        if (found.length !== 1)
          throw new Error(
            `Expected one function whose logical id starts with ${prefix}, found ${found.length}`,
          );
        return (found[0] as [string, LambdaFunction])[1];
      },
      asyncOf: (fn) => asyncInvokers.get(fn) as AsyncInvoker,
      caller(name = `laptop-${++callers}`, policy) {
        const credentials = newCredentials("AKIA");
        principals.add({
          name: `caller ${name}`,
          arn: `arn:aws:sts::${ACCOUNT_ID}:assumed-role/SquallCaller/${name}`,
          credentials,
          statements: policy
            ? policyStatements(policy, resolveContext, `caller ${name}'s policy`)
            : caller.statements,
        });
        return credentials;
      },
      callerPolicySource: caller.source,
      denials,
      refusals,
      throttle: (rule) => throttles.add(rule),
      throttles,
      loseResponses: (rule) => lostResponses.add(rule),
      lostResponses,
      admin,
      quiet: (timeoutMs = 30_000) =>
        waitForQuiet(
          {
            sqs: admin.sqs,
            polledQueueUrls: [
              ...new Set(stack.mappings.map((m) => queues.get(m.queueLogicalId)?.url as string)),
            ],
            functions: [...functions.values()],
            asyncInvokers: [...asyncInvokers.values()],
            quietMs: 500 + 1000 * Math.max(0, ...stack.mappings.map((m) => m.batchingWindowSeconds)),
          },
          timeoutMs,
        ),
      setLimits(next) {
        limits = effectiveLimits(next);
      },
      stop() {
        stopped ??= (async () => {
          for (const async of asyncInvokers.values()) async.stop();
          await Promise.all(pollers.map((poller) => poller.stop()));
          await Promise.all([...functions.values()].map((fn) => fn.stop()));
          for (const client of clients) client.destroy();
          await emulator.stop();
        })();
        return stopped;
      },
    };
  } catch (error) {
    await Promise.all(pollers.map((poller) => poller.stop()));
    await Promise.all([...functions.values()].map((fn) => fn.stop()));
    for (const client of clients) client.destroy();
    await emulator.stop();
    throw error;
  }
}

/**
 * Lambda refuses to create a mapping from a queue whose visibility timeout is shorter than the
 * function's timeout (a message would come back while its invocation still runs), and so does
 * the deployment. A test that shortens visibility timeouts on purpose is not held to it.
 */
function checkVisibility(stack: StackTemplate, mapping: MappingSpec, fn: LambdaFunction): void {
  const queue = stack.queues.find((candidate) => candidate.logicalId === mapping.queueLogicalId);
  const visibility = Number(queue?.properties.VisibilityTimeout ?? 30);
  if (visibility < fn.config.timeoutSeconds) {
    throw new Error(
      `${mapping.logicalId}: Queue visibility timeout: ${visibility} seconds is less than Function timeout: ${fn.config.timeoutSeconds} seconds (Lambda refuses this mapping)`,
    );
  }
}
