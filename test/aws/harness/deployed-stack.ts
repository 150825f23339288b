// Deploys a synthesized stack onto the embedded emulator, as CloudFormation would deploy it on
// AWS: its queues (visibility timeouts, redrive to dead-letter queues) and bucket created with
// generated names; its functions run from their synthesized code as separate processes, with
// their timeouts, memory, environment (references resolved to what was created) and roles; its
// event source mappings polling their queues; Lambda's Invoke API and CloudFormation's
// DescribeStacks served on the emulator's endpoint; and AWS's limits enforced in front of it all,
// each of which a test may switch off.
import { randomUUID } from "node:crypto";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { CreateQueueCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Emulator } from "../../../sdk/aws/emulator.js";
import { INTERNAL_HEADER } from "../../../sdk/aws/local/faults.js";
import { AsyncInvoker, type AsyncSettings, LAMBDA_ASYNC_DEFAULTS } from "./async-invoker.js";
import { type AwsCall, describeCall } from "./aws-request.js";
import { type DescribedStack, installCloudFormationApi } from "./cloudformation-api.js";
import { startEmulatorWith } from "./emulator-app.js";
import { EventSourcePoller } from "./event-source-poller.js";
import { type Denial, installIam } from "./iam-layer.js";
import { type PhysicalResource, type ResolveContext, resolve, resolveString } from "./intrinsics.js";
import { installInvokeApi, LAMBDA_PAYLOAD_LIMITS, type PayloadLimits } from "./invoke-api.js";
import { LambdaFunction } from "./lambda-function.js";
import { type LostResponseRule, LostResponses } from "./lost-responses.js";
import {
  bucketResource,
  functionResource,
  generatedName,
  logGroupResource,
  managedPolicyResource,
  otherResource,
  type Place,
  queueResource,
  roleResource,
  stackArn,
} from "./physical-names.js";
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
import { installSqsLimits, SQS_LIMITS, type SqsLimits } from "./sqs-limits.js";
import { type MappingSpec, readStackTemplate, type StackTemplate } from "./template.js";
import { type ThrottleRule, Throttles } from "./throttles.js";

/** AWS's limits, each on unless switched off. */
export interface Limits {
  /** 256 KiB messages and batch calls, 10 entries a batch, allowed characters in bodies. */
  readonly sqs?: boolean | SqsLimits;
  /** 6 MB synchronous requests and responses, 256 KiB Event requests. */
  readonly lambdaPayloads?: boolean | PayloadLimits;
  /** Event invocations that fail are retried, as the function's EventInvokeConfig says (else twice). */
  readonly asyncRetries?: boolean;
  /** Each principal may do only what its policies allow; missing keys read without s3:ListBucket are 403. */
  readonly iam?: boolean;
}

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

export interface QueueInfo {
  readonly name: string;
  readonly url: string;
  readonly arn: string;
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

interface EffectiveLimits {
  readonly sqs: SqsLimits;
  readonly lambdaPayloads: PayloadLimits;
  readonly asyncRetries: boolean;
  readonly iam: boolean;
}

function effectiveLimits(limits: Limits): EffectiveLimits {
  const pick = <T extends object>(setting: boolean | T | undefined, all: T): T | Record<string, never> =>
    setting === false ? {} : { ...all, ...(typeof setting === "object" ? setting : {}) };
  return {
    sqs: pick(limits.sqs, SQS_LIMITS),
    lambdaPayloads: pick(limits.lambdaPayloads, LAMBDA_PAYLOAD_LIMITS),
    asyncRetries: limits.asyncRetries !== false,
    iam: limits.iam !== false,
  };
}

/** A physical name for every resource, as CloudFormation generates them when the template names none. */
function nameResources(stack: StackTemplate, place: Place, resources: Map<string, PhysicalResource>): void {
  for (const [logicalId, resource] of Object.entries(stack.template.Resources)) {
    const p = resource.Properties ?? {};
    switch (resource.Type) {
      case "AWS::Lambda::Function":
        resources.set(
          logicalId,
          functionResource(place, String(p.FunctionName ?? generatedName(place, logicalId, 64))),
        );
        break;
      case "AWS::IAM::Role":
        resources.set(
          logicalId,
          roleResource(place, String(p.RoleName ?? generatedName(place, logicalId, 64))),
        );
        break;
      case "AWS::IAM::ManagedPolicy":
        resources.set(
          logicalId,
          managedPolicyResource(place, String(p.ManagedPolicyName ?? generatedName(place, logicalId, 128))),
        );
        break;
      case "AWS::Logs::LogGroup":
        resources.set(
          logicalId,
          logGroupResource(place, String(p.LogGroupName ?? generatedName(place, logicalId, 512))),
        );
        break;
      case "AWS::SQS::Queue":
      case "AWS::S3::Bucket":
        break; // named when created
      default:
        resources.set(logicalId, otherResource(generatedName(place, logicalId, 128)));
    }
  }
}

async function createBuckets(
  stack: StackTemplate,
  place: Place,
  resources: Map<string, PhysicalResource>,
  s3: S3Client,
): Promise<Map<string, string>> {
  const buckets = new Map<string, string>();
  for (const logicalId of stack.buckets) {
    const given = stack.template.Resources[logicalId]?.Properties?.BucketName;
    const name = typeof given === "string" ? given : generatedName(place, logicalId, 63, true);
    await s3.send(new CreateBucketCommand({ Bucket: name }));
    resources.set(logicalId, bucketResource(place, name));
    buckets.set(logicalId, name);
  }
  return buckets;
}

/** The template's queues, dead-letter queues first so that redrive policies can name them. */
async function createQueues(
  stack: StackTemplate,
  place: Place,
  resources: Map<string, PhysicalResource>,
  context: ResolveContext,
  sqs: SQSClient,
  visibilityTimeoutSeconds: number | undefined,
): Promise<Map<string, QueueInfo>> {
  const queues = new Map<string, QueueInfo>();
  const pending = [...stack.queues];
  while (pending.length > 0) {
    const index = pending.findIndex(
      (queue) => queue.deadLetterQueueLogicalId === undefined || queues.has(queue.deadLetterQueueLogicalId),
    );
    if (index < 0) throw new Error("The queues' redrive policies name queues that are not in the stack");
    const [spec] = pending.splice(index, 1);
    if (!spec) break;
    const p = spec.properties;
    const name = String(p.QueueName ?? generatedName(place, spec.logicalId, p.FifoQueue ? 75 : 80));
    const attributes: Record<string, string> = {};
    for (const key of [
      "VisibilityTimeout",
      "MessageRetentionPeriod",
      "DelaySeconds",
      "MaximumMessageSize",
      "ReceiveMessageWaitTimeSeconds",
      "SqsManagedSseEnabled",
      "FifoQueue",
      "ContentBasedDeduplication",
    ]) {
      if (p[key] !== undefined) attributes[key] = String(resolve(p[key], context));
    }
    if (p.RedrivePolicy !== undefined)
      attributes.RedrivePolicy = JSON.stringify(resolve(p.RedrivePolicy, context));
    if (visibilityTimeoutSeconds !== undefined)
      attributes.VisibilityTimeout = String(visibilityTimeoutSeconds);
    const created = await sqs.send(
      new CreateQueueCommand({ QueueName: p.FifoQueue ? `${name}.fifo` : name, Attributes: attributes }),
    );
    const url = created.QueueUrl as string;
    const resource = queueResource(place, url.slice(url.lastIndexOf("/") + 1), url);
    resources.set(spec.logicalId, resource);
    queues.set(spec.logicalId, {
      name: resource.attributes.QueueName as string,
      url,
      arn: resource.attributes.Arn as string,
    });
  }
  return queues;
}
