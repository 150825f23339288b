// The stack's template, resource by resource: what LambdaTaskRunner and the handlers rely on.
import { pathToFileURL } from "node:url";
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import { Match } from "aws-cdk-lib/assertions";
import type { Role } from "aws-cdk-lib/aws-iam";
import { Architecture } from "aws-cdk-lib/aws-lambda";
import { RetentionDays } from "aws-cdk-lib/aws-logs";
import type { Queue } from "aws-cdk-lib/aws-sqs";
import { describe, expect, it } from "vitest";
import type { SquallFunction } from "../../cdk/constructs/squall-function.js";
import { STACK_OUTPUTS } from "../../sdk/aws/address.js";
import { moduleHash } from "../../sdk/registry.js";
import { arn, logicalId, ROOT, ref, templateOf } from "./stack.js";

const { squall, template } = templateOf();

const functionProps = (fn: SquallFunction) => template.toJSON().Resources[logicalId(fn.function)].Properties;

const denyWithoutTls = Match.arrayWith([
  Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
]);

describe("the result bucket", () => {
  it("is private, TLS only, encrypted with S3-managed keys and unversioned", () => {
    template.hasResourceProperties("AWS::S3::Bucket", {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }],
      },
      VersioningConfiguration: Match.absent(),
    });
    template.hasResourceProperties("AWS::S3::BucketPolicy", {
      Bucket: ref(squall.results.bucket),
      PolicyDocument: { Statement: denyWithoutTls },
    });
  });

  it("expires runs/, run keys and open-run markers after 30 days and is retained with the stack by default", () => {
    template.hasResource("AWS::S3::Bucket", {
      Properties: {
        LifecycleConfiguration: {
          Rules: Match.arrayWith([
            Match.objectLike({ Prefix: "runs/", ExpirationInDays: 30, Status: "Enabled" }),
            Match.objectLike({ Prefix: "keys/", ExpirationInDays: 30, Status: "Enabled" }),
            Match.objectLike({ Prefix: "open/", ExpirationInDays: 30, Status: "Enabled" }),
          ]),
        },
      },
      DeletionPolicy: "Retain",
      UpdateReplacePolicy: "Retain",
    });
    template.resourceCountIs("Custom::S3AutoDeleteObjects", 0);
  });

  it("takes the retention in days, and a DESTROY removal policy that empties it first", () => {
    const custom = templateOf({ retentionDays: 7, removalPolicy: RemovalPolicy.DESTROY }).template;
    custom.hasResource("AWS::S3::Bucket", {
      Properties: {
        LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ ExpirationInDays: 7 })]) },
      },
      DeletionPolicy: "Delete",
    });
    custom.resourceCountIs("Custom::S3AutoDeleteObjects", 1);
    custom.allResources("AWS::Logs::LogGroup", { DeletionPolicy: "Delete" });
  });

  it("refuses a retention that is not a whole number of days", () => {
    expect(() => templateOf({ retentionDays: 0 })).toThrow(
      "Expected `retentionDays` to be an integer >= 1, got `0`",
    );
    expect(() => templateOf({ retentionDays: 1.5 })).toThrow("got `1.5`");
  });
});

describe("the queues", () => {
  it("are six (task, completion and flow queues, each with its dead-letter queue), each encrypted by SQS and refusing requests without TLS", () => {
    template.resourceCountIs("AWS::SQS::Queue", 6);
    template.allResourcesProperties("AWS::SQS::Queue", { SqsManagedSseEnabled: true });
    template.resourceCountIs("AWS::SQS::QueuePolicy", 6);
    template.allResourcesProperties("AWS::SQS::QueuePolicy", {
      PolicyDocument: { Statement: denyWithoutTls },
    });
  });

  it("hide a message six times the timeout of the function they feed, and dead-letter it", () => {
    const { tasks, completions } = squall;
    const queues = template.toJSON().Resources;
    expect(queues[logicalId(tasks.queue)].Properties).toMatchObject({
      VisibilityTimeout: 360,
      // A backstop well above the worker's own rule (maxDeaths 3), as throttling raises receive counts.
      RedrivePolicy: { deadLetterTargetArn: arn(tasks.deadLetterQueue), maxReceiveCount: 10 },
    });
    expect(queues[logicalId(completions.queue)].Properties).toMatchObject({
      VisibilityTimeout: 360,
      RedrivePolicy: { deadLetterTargetArn: arn(completions.deadLetterQueue), maxReceiveCount: 10 },
    });
    // The coordinator consumes the task dead-letter queue too.
    expect(queues[logicalId(tasks.deadLetterQueue)].Properties).toMatchObject({
      VisibilityTimeout: 360,
      MessageRetentionPeriod: 1_209_600,
    });
    expect(queues[logicalId(completions.deadLetterQueue)].Properties).toMatchObject({
      MessageRetentionPeriod: 1_209_600,
    });
  });

  it("follow the functions' timeouts and the redrive count given", () => {
    const custom = templateOf({
      maxReceiveCount: 5,
      maxDeaths: 2,
      worker: { timeout: Duration.seconds(120) },
      coordinator: { timeout: Duration.seconds(30) },
    });
    const queues = custom.template.toJSON().Resources;
    const { tasks, completions } = custom.squall;
    expect(queues[logicalId(tasks.queue)].Properties).toMatchObject({
      VisibilityTimeout: 720,
      RedrivePolicy: { maxReceiveCount: 5 },
    });
    expect(queues[logicalId(tasks.deadLetterQueue)].Properties.VisibilityTimeout).toBe(180);
    expect(queues[logicalId(completions.queue)].Properties.VisibilityTimeout).toBe(180);
    const worker = queues[logicalId(custom.squall.worker.function)].Properties;
    expect(worker.Environment.Variables.SQUALL_MAX_DEATHS).toBe("2");
  });

  it("refuses a redrive count SQS would refuse, or one that would dead-letter a run before the worker ends it", () => {
    expect(() => templateOf({ maxReceiveCount: 1000.5, maxDeaths: 3 })).toThrow(
      "Expected `maxReceiveCount` to be an integer from 1 to 1000, got `1000.5`",
    );
    expect(() => templateOf({ maxReceiveCount: 4 })).toThrow(
      /^Expected `maxReceiveCount` to be at least `maxDeaths` \+ 2 \(5\), got `4`: a run that kills its worker/,
    );
    expect(() => templateOf({ maxDeaths: 0 })).toThrow(
      "Expected `maxDeaths` to be an integer from 1 to 100, got `0`",
    );
  });
});

describe("the functions", () => {
  it("are three, on Node.js 24, arm64, with an ES module handler", () => {
    template.resourceCountIs("AWS::Lambda::Function", 3);
    template.allResourcesProperties("AWS::Lambda::Function", {
      Runtime: "nodejs24.x",
      Architectures: ["arm64"],
      Handler: "index.handler",
    });
  });

  it("have 1024 MB and their timeouts by default: 60 s, 60 s, and 900 s for the flow-runner", () => {
    expect(functionProps(squall.worker)).toMatchObject({ MemorySize: 1024, Timeout: 60 });
    expect(functionProps(squall.coordinator)).toMatchObject({ MemorySize: 1024, Timeout: 60 });
    expect(functionProps(squall.flowRunner)).toMatchObject({ MemorySize: 1024, Timeout: 900 });
  });

  it("take memory, timeouts and the architecture", () => {
    const custom = templateOf({
      architecture: Architecture.X86_64,
      worker: { memorySize: 2048, timeout: Duration.seconds(30) },
      coordinator: { memorySize: 512 },
      flowRunner: { memorySize: 256, timeout: Duration.minutes(5) },
    });
    const props = (fn: SquallFunction) =>
      custom.template.toJSON().Resources[logicalId(fn.function)].Properties;
    expect(props(custom.squall.worker)).toMatchObject({
      MemorySize: 2048,
      Timeout: 30,
      Architectures: ["x86_64"],
    });
    expect(props(custom.squall.coordinator)).toMatchObject({ MemorySize: 512, Timeout: 60 });
    expect(props(custom.squall.flowRunner)).toMatchObject({ MemorySize: 256, Timeout: 300 });
    // Callers learn the worker's timeout from the flow-runner's environment and the stack's outputs.
    expect(props(custom.squall.flowRunner).Environment.Variables.SQUALL_WORKER_TIMEOUT_SECONDS).toBe("30");
    expect(custom.template.toJSON().Outputs.WorkerTimeoutSeconds.Value).toBe("30");
  });

  it("give the worker and the flow-runner the address and the bundled modules' hashes, the worker its death limit, the flow-runner its stack's name and the worker's timeout", () => {
    const hash = (path: string) => moduleHash(pathToFileURL(`${ROOT}${path}`).href);
    const expected = {
      SQUALL_TASK_QUEUE_URL: ref(squall.tasks.queue),
      SQUALL_COMPLETION_QUEUE_URL: ref(squall.completions.queue),
      SQUALL_BUCKET: ref(squall.results.bucket),
      SQUALL_REGION: { Ref: "AWS::Region" },
      SQUALL_CALLER_SILENCE_SECONDS: "180",
      SQUALL_BUNDLED_MODULES: JSON.stringify({
        "examples/flows.ts": hash("examples/flows.ts"),
        "examples/parallel-flow.ts": hash("examples/parallel-flow.ts"),
      }),
    };
    expect(functionProps(squall.worker).Environment.Variables).toEqual({
      ...expected,
      SQUALL_MAX_DEATHS: "3",
    });
    expect(functionProps(squall.flowRunner).Environment.Variables).toEqual({
      ...expected,
      SQUALL_STACK_NAME: { Ref: "AWS::StackName" },
      SQUALL_WORKER_TIMEOUT_SECONDS: "60",
      SQUALL_FLOW_QUEUE_URL: ref(squall.flowQueue.queue),
    });
  });

  it("give callers and the coordinator the bound on a caller's silence, 3 minutes unless set, in whole seconds", () => {
    expect(template.toJSON().Outputs.CallerSilenceSeconds.Value).toBe("180");
    const custom = templateOf({ callerSilence: Duration.minutes(10) });
    const variables = (fn: SquallFunction) =>
      custom.template.toJSON().Resources[logicalId(fn.function)].Properties.Environment.Variables;
    expect(variables(custom.squall.coordinator).SQUALL_CALLER_SILENCE_SECONDS).toBe("600");
    expect(variables(custom.squall.flowRunner).SQUALL_CALLER_SILENCE_SECONDS).toBe("600");
    expect(custom.template.toJSON().Outputs.CallerSilenceSeconds.Value).toBe("600");
    expect(() => templateOf({ callerSilence: Duration.millis(1500) })).toThrow(
      "Expected `callerSilence` to be a whole number of seconds, at least 1, got 1.5 seconds",
    );
  });

  it("give the coordinator the address, the task dead-letter queue and the overdue time, and no flows", () => {
    expect(functionProps(squall.coordinator).Environment.Variables).toEqual({
      SQUALL_TASK_QUEUE_URL: ref(squall.tasks.queue),
      SQUALL_COMPLETION_QUEUE_URL: ref(squall.completions.queue),
      SQUALL_BUCKET: ref(squall.results.bucket),
      SQUALL_REGION: { Ref: "AWS::Region" },
      SQUALL_CALLER_SILENCE_SECONDS: "180",
      SQUALL_DEAD_LETTER_QUEUE_ARN: arn(squall.tasks.deadLetterQueue),
      SQUALL_OVERDUE_SECONDS: "3600",
      SQUALL_FLOW_QUEUE_URL: ref(squall.flowQueue.queue),
      SQUALL_FLOW_DEAD_LETTER_QUEUE_ARN: arn(squall.flowQueue.deadLetterQueue),
    });
    const custom = templateOf({ coordinator: { overdue: Duration.minutes(30) } });
    const coordinator = custom.template.toJSON().Resources[logicalId(custom.squall.coordinator.function)];
    expect(coordinator.Properties.Environment.Variables.SQUALL_OVERDUE_SECONDS).toBe("1800");
  });

  it("log to a group of their own, kept a month by default", () => {
    for (const fn of [squall.worker, squall.coordinator, squall.flowRunner]) {
      expect(functionProps(fn).LoggingConfig).toEqual({ LogGroup: ref(fn.logGroup) });
    }
    template.resourceCountIs("AWS::Logs::LogGroup", 3);
    template.allResourcesProperties("AWS::Logs::LogGroup", { RetentionInDays: 30 });
    templateOf({ logRetention: RetentionDays.ONE_WEEK }).template.allResourcesProperties(
      "AWS::Logs::LogGroup",
      {
        RetentionInDays: 7,
      },
    );
  });

  it("refuses a flows module that does not exist", () => {
    expect(() => templateOf({ flows: "examples/nowhere.ts" })).toThrow(
      /Expected `flows` to name a module, got `examples\/nowhere.ts`: .*examples\/nowhere.ts does not exist/,
    );
  });
});

describe("the event sources", () => {
  const mappings = () => template.findResources("AWS::Lambda::EventSourceMapping");

  it("feed the worker from the task queue in batches, reporting partial failures, at most 100 at once", () => {
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      FunctionName: ref(squall.worker.function),
      EventSourceArn: arn(squall.tasks.queue),
      BatchSize: 10,
      MaximumBatchingWindowInSeconds: 0,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      ScalingConfig: { MaximumConcurrency: 100 },
    });
  });

  it("feed the coordinator outcomes, gathered for a second, and dead-lettered task messages, a few invocations at once", () => {
    // Writers of one record race for its next segment: without a bound, a burst starts hundreds.
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      FunctionName: ref(squall.coordinator.function),
      EventSourceArn: arn(squall.completions.queue),
      BatchSize: 10,
      MaximumBatchingWindowInSeconds: 1,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      ScalingConfig: { MaximumConcurrency: 5 },
    });
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      FunctionName: ref(squall.coordinator.function),
      EventSourceArn: arn(squall.tasks.deadLetterQueue),
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      ScalingConfig: { MaximumConcurrency: 2 },
    });
    expect(() => templateOf({ coordinator: { maxConcurrency: 1 } })).toThrow(
      "Expected `coordinator.maxConcurrency` to be an integer from 2 to 1000 (Lambda's limits for an SQS event source), got `1`",
    );
  });

  it("do not retry an Event invocation of the flow-runner: a retry would start the flow a second time", () => {
    template.hasResourceProperties("AWS::Lambda::EventInvokeConfig", {
      FunctionName: ref(squall.flowRunner.function),
      MaximumRetryAttempts: 0,
      Qualifier: "$LATEST",
    });
    template.resourceCountIs("AWS::Lambda::EventInvokeConfig", 1);
  });

  it("are those three and the flow queue's two: the flow-runner is otherwise invoked directly", () => {
    expect(Object.keys(mappings())).toHaveLength(5);
  });

  it("take the worker's batch size, batching window and concurrency", () => {
    const custom = templateOf({
      worker: { batchSize: 5, maxBatchingWindow: Duration.seconds(2), maxConcurrency: 20 },
      coordinator: { batchSize: 50, maxBatchingWindow: Duration.seconds(5), maxConcurrency: 3 },
    });
    custom.template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      FunctionName: ref(custom.squall.worker.function),
      BatchSize: 5,
      MaximumBatchingWindowInSeconds: 2,
      ScalingConfig: { MaximumConcurrency: 20 },
    });
    custom.template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      EventSourceArn: arn(custom.squall.completions.queue),
      BatchSize: 50,
      MaximumBatchingWindowInSeconds: 5,
      ScalingConfig: { MaximumConcurrency: 3 },
    });
  });

  it("include a sweep every five minutes that invokes the coordinator with { squall: 'sweep' }", () => {
    template.hasResourceProperties("AWS::Events::Rule", {
      ScheduleExpression: "rate(5 minutes)",
      State: "ENABLED",
      Targets: [Match.objectLike({ Arn: arn(squall.coordinator.function), Input: '{"squall":"sweep"}' })],
    });
    template.hasResourceProperties("AWS::Lambda::Permission", {
      Action: "lambda:InvokeFunction",
      FunctionName: arn(squall.coordinator.function),
      Principal: "events.amazonaws.com",
    });
  });
});

describe("the grants", () => {
  type Statement = { Action: string | string[]; Resource: unknown };
  const statementsOf = (fn: SquallFunction) => {
    const policies = template.findResources("AWS::IAM::Policy");
    const role = logicalId(fn.grantPrincipal as Role);
    return Object.values(policies)
      .filter((policy) => policy.Properties.Roles.some((r: { Ref: string }) => r.Ref === role))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
  };
  /** `{ action: [resources] }`, to compare grants whatever their order. */
  const grants = (fn: SquallFunction) => {
    const map: Record<string, unknown[]> = {};
    for (const { Action, Resource } of statementsOf(fn)) {
      for (const action of [Action].flat()) map[action] = [...(map[action] ?? []), Resource];
    }
    return map;
  };
  /** Run keys: read by the worker and the coordinator, written by the flow-runner (its caller). */
  const runKeys = { "Fn::Join": ["", [arn(squall.results.bucket), "/keys/*"]] };
  const records = (fn: SquallFunction) => {
    const objects = { "Fn::Join": ["", [arn(squall.results.bucket), "/runs/*"]] };
    return {
      "s3:GetObject": [objects],
      "s3:PutObject": [objects],
      "s3:ListBucket": [arn(squall.results.bucket)],
      "logs:CreateLogStream": [arn(fn.logGroup)],
      "logs:PutLogEvents": [arn(fn.logGroup)],
    };
  };
  const consume = (queue: Queue) => ({
    "sqs:ReceiveMessage": [arn(queue)],
    "sqs:ChangeMessageVisibility": [arn(queue)],
    "sqs:DeleteMessage": [arn(queue)],
  });

  it("let the worker consume and resend task messages, send outcomes, read and write run records, and read run keys", () => {
    const worker = grants(squall.worker);
    const { "s3:GetObject": runs, ...rest } = records(squall.worker);
    expect(worker).toMatchObject({
      ...rest,
      "s3:GetObject": [...runs, runKeys],
      // Values above 8 MiB go up in parts; a failed upload is aborted.
      "s3:AbortMultipartUpload": runs,
      ...consume(squall.tasks.queue),
      "sqs:SendMessage": [arn(squall.tasks.queue), arn(squall.completions.queue)],
    });
    expect(Object.keys(worker).sort()).toEqual([
      "logs:CreateLogStream",
      "logs:PutLogEvents",
      "s3:AbortMultipartUpload",
      "s3:GetObject",
      "s3:ListBucket",
      "s3:PutObject",
      "sqs:ChangeMessageVisibility",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
      "sqs:ReceiveMessage",
      "sqs:SendMessage",
    ]);
  });

  it("let the coordinator consume outcomes and dead letters, keep run records and open-run markers, read run keys, sending only flow runs", () => {
    const coordinator = grants(squall.coordinator);
    const { "s3:GetObject": runs, "s3:PutObject": _, ...rest } = records(squall.coordinator);
    const markers = { "Fn::Join": ["", [arn(squall.results.bucket), "/open/*"]] };
    expect(coordinator).toMatchObject({
      ...rest,
      "s3:GetObject": [...runs, runKeys, markers],
      "s3:PutObject": [...runs, markers],
      "s3:DeleteObject": [markers],
      "sqs:ReceiveMessage": [
        arn(squall.completions.queue),
        arn(squall.tasks.deadLetterQueue),
        arn(squall.flowQueue.deadLetterQueue),
      ],
      "sqs:DeleteMessage": [
        arn(squall.completions.queue),
        arn(squall.tasks.deadLetterQueue),
        arn(squall.flowQueue.deadLetterQueue),
      ],
    });
    expect(coordinator["sqs:SendMessage"]).toEqual([arn(squall.flowQueue.queue)]);
  });

  it("let the flow-runner send to the three queues, read and write run records, read and write run keys, write open-run markers, consuming only flow runs", () => {
    const flowRunner = grants(squall.flowRunner);
    const { "s3:PutObject": runs, "s3:GetObject": read, ...rest } = records(squall.flowRunner);
    const markers = { "Fn::Join": ["", [arn(squall.results.bucket), "/open/*"]] };
    expect(flowRunner).toMatchObject({
      ...rest,
      "s3:GetObject": [...read, runKeys],
      "s3:PutObject": [...runs, runKeys, markers],
      "s3:AbortMultipartUpload": runs,
      "sqs:SendMessage": [
        arn(squall.tasks.queue),
        arn(squall.completions.queue),
        arn(squall.flowQueue.queue),
      ],
    });
    expect(grants(squall.coordinator)["s3:AbortMultipartUpload"]).toBeUndefined();
    expect(flowRunner["sqs:ReceiveMessage"]).toEqual([arn(squall.flowQueue.queue)]);
    expect(flowRunner["sqs:DeleteMessage"]).toEqual([arn(squall.flowQueue.queue)]);
    expect(flowRunner["s3:DeleteObject"]).toBeUndefined();
  });

  it("name every action, and attach no managed policy", () => {
    for (const fn of [squall.worker, squall.coordinator, squall.flowRunner]) {
      for (const action of Object.keys(grants(fn))) expect(action).not.toContain("*");
    }
    template.allResourcesProperties("AWS::IAM::Role", { ManagedPolicyArns: Match.absent() });
  });
});

describe("the outputs", () => {
  it("are the ones LambdaTaskRunner({ stack }) reads, under their exact keys, and four more", () => {
    const outputs: Record<string, { Value: unknown }> = template.toJSON().Outputs;
    const values = Object.fromEntries(Object.entries(outputs).map(([key, output]) => [key, output.Value]));
    expect(values).toEqual({
      [STACK_OUTPUTS.taskQueueUrl]: ref(squall.tasks.queue),
      [STACK_OUTPUTS.completionQueueUrl]: ref(squall.completions.queue),
      [STACK_OUTPUTS.bucket]: ref(squall.results.bucket),
      [STACK_OUTPUTS.workerTimeoutSeconds]: "60",
      [STACK_OUTPUTS.callerSilenceSeconds]: "180",
      [STACK_OUTPUTS.flowQueueUrl]: ref(squall.flowQueue.queue),
      FlowRunnerFunctionName: ref(squall.flowRunner.function),
      DeadLetterQueueUrl: ref(squall.tasks.deadLetterQueue),
      Region: { Ref: "AWS::Region" },
      CallerPolicyArn: { Ref: logicalId(squall.callerPolicy.policy) },
    });
  });
});

describe("the caller's managed policy", () => {
  it("grants a caller exactly what it uses, on this stack's resources only", () => {
    const policy = template.toJSON().Resources[logicalId(squall.callerPolicy.policy)];
    expect(policy.Type).toBe("AWS::IAM::ManagedPolicy");
    const objects = (prefix: string) => ({ "Fn::Join": ["", [arn(squall.results.bucket), `/${prefix}*`]] });
    expect(policy.Properties.PolicyDocument.Statement).toEqual([
      {
        Sid: "SendTaskRuns",
        Effect: "Allow",
        Action: "sqs:SendMessage",
        Resource: [arn(squall.tasks.queue), arn(squall.completions.queue)],
      },
      {
        Sid: "ReadAndWriteRecords",
        Effect: "Allow",
        Action: ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
        Resource: objects("runs/"),
      },
      { Sid: "WriteRunKeys", Effect: "Allow", Action: "s3:PutObject", Resource: objects("keys/") },
      { Sid: "OpenRuns", Effect: "Allow", Action: "s3:PutObject", Resource: objects("open/") },
      { Sid: "ListBucket", Effect: "Allow", Action: "s3:ListBucket", Resource: arn(squall.results.bucket) },
      {
        Sid: "FindStack",
        Effect: "Allow",
        Action: "cloudformation:DescribeStacks",
        Resource: {
          "Fn::Join": [
            "",
            [
              "arn:",
              { Ref: "AWS::Partition" },
              ":cloudformation:",
              { Ref: "AWS::Region" },
              ":",
              { Ref: "AWS::AccountId" },
              ":stack/Squall/*",
            ],
          ],
        },
      },
      {
        Sid: "StartFlows",
        Effect: "Allow",
        Action: "lambda:InvokeFunction",
        Resource: arn(squall.flowRunner.function),
      },
      {
        Sid: "StartFlowRuns",
        Effect: "Allow",
        Action: "sqs:SendMessage",
        Resource: arn(squall.flowQueue.queue),
      },
    ]);
  });
});
