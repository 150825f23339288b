// The flow queue in the stack's template: the queue that starts and resumes durable flow runs,
// feeding the flow-runner one run at a time, its dead-letter queue feeding the coordinator.
import { Duration } from "aws-cdk-lib";
import { Match } from "aws-cdk-lib/assertions";
import type { Role } from "aws-cdk-lib/aws-iam";
import { describe, expect, it } from "vitest";
import type { SquallFunction } from "../../cdk/constructs/squall-function.js";
import { arn, logicalId, ref, templateOf } from "./stack.js";

const { squall, template } = templateOf();
const resources = () => template.toJSON().Resources;
const variables = (fn: SquallFunction) =>
  resources()[logicalId(fn.function)].Properties.Environment.Variables;

/** The SQS actions a function's role is granted, each with the queues it is granted on. */
function sqsGrants(fn: SquallFunction, tpl = template): Record<string, unknown[]> {
  const role = logicalId(fn.grantPrincipal as Role);
  const found: Record<string, unknown[]> = {};
  for (const policy of Object.values(tpl.findResources("AWS::IAM::Policy"))) {
    if (!policy.Properties.Roles.some((r: { Ref: string }) => r.Ref === role)) continue;
    for (const { Action, Resource } of policy.Properties.PolicyDocument.Statement) {
      for (const action of [Action].flat() as string[]) {
        if (action.startsWith("sqs:")) found[action] = [...(found[action] ?? []), ...[Resource].flat()];
      }
    }
  }
  return found;
}

describe("the flow queue", () => {
  it("hides a run's message for the flow-runner's timeout and 30 s more, and dead-letters it after 5 receives", () => {
    const { queue, deadLetterQueue } = squall.flowQueue;
    expect(resources()[logicalId(queue)].Properties).toEqual({
      SqsManagedSseEnabled: true,
      VisibilityTimeout: 930,
      RedrivePolicy: { deadLetterTargetArn: arn(deadLetterQueue), maxReceiveCount: 5 },
    });
    // The coordinator consumes the dead-letter queue: hidden six times its timeout, as the task DLQ.
    expect(resources()[logicalId(deadLetterQueue)].Properties).toEqual({
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 1_209_600,
      VisibilityTimeout: 360,
    });
    for (const q of [queue, deadLetterQueue]) {
      template.hasResourceProperties("AWS::SQS::QueuePolicy", {
        Queues: [ref(q)],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
          ]),
        },
      });
    }
  });

  it("follows the flow-runner's timeout", () => {
    const custom = templateOf({ flowRunner: { timeout: Duration.minutes(5) } });
    const properties =
      custom.template.toJSON().Resources[logicalId(custom.squall.flowQueue.queue)].Properties;
    expect(properties.VisibilityTimeout).toBe(330);
  });

  it("feeds the flow-runner one run per invocation, reporting failures, at Lambda's concurrency", () => {
    const mappings = Object.values(template.findResources("AWS::Lambda::EventSourceMapping")).filter(
      (mapping) => mapping.Properties.FunctionName.Ref === logicalId(squall.flowRunner.function),
    );
    expect(mappings.map((mapping) => mapping.Properties)).toEqual([
      {
        FunctionName: ref(squall.flowRunner.function),
        EventSourceArn: arn(squall.flowQueue.queue),
        BatchSize: 1,
        MaximumBatchingWindowInSeconds: 0,
        FunctionResponseTypes: ["ReportBatchItemFailures"],
      },
    ]);
  });

  it("takes the flow-runner's maxConcurrency, and refuses one Lambda would", () => {
    const custom = templateOf({ flowRunner: { maxConcurrency: 20 } });
    custom.template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      FunctionName: ref(custom.squall.flowRunner.function),
      EventSourceArn: arn(custom.squall.flowQueue.queue),
      ScalingConfig: { MaximumConcurrency: 20 },
    });
    expect(() => templateOf({ flowRunner: { maxConcurrency: 1 } })).toThrow(
      "Expected `flowRunner.maxConcurrency` to be an integer from 2 to 1000 (Lambda's limits for an SQS event source), got `1`",
    );
  });

  it("sends its dead letters to the coordinator in batches of 10, two invocations at most", () => {
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      FunctionName: ref(squall.coordinator.function),
      EventSourceArn: arn(squall.flowQueue.deadLetterQueue),
      BatchSize: 10,
      MaximumBatchingWindowInSeconds: 0,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      ScalingConfig: { MaximumConcurrency: 2 },
    });
  });

  it("is named to the flow-runner and the coordinator, and its dead-letter queue to the coordinator", () => {
    expect(variables(squall.flowRunner).SQUALL_FLOW_QUEUE_URL).toEqual(ref(squall.flowQueue.queue));
    expect(variables(squall.flowRunner).SQUALL_FLOW_DEAD_LETTER_QUEUE_ARN).toBeUndefined();
    expect(variables(squall.coordinator).SQUALL_FLOW_QUEUE_URL).toEqual(ref(squall.flowQueue.queue));
    expect(variables(squall.coordinator).SQUALL_FLOW_DEAD_LETTER_QUEUE_ARN).toEqual(
      arn(squall.flowQueue.deadLetterQueue),
    );
    expect(variables(squall.worker).SQUALL_FLOW_QUEUE_URL).toBeUndefined();
  });

  it("is the FlowQueueUrl output", () => {
    expect(template.toJSON().Outputs.FlowQueueUrl).toEqual({
      Value: ref(squall.flowQueue.queue),
      Description: "Where durable flow runs are started and resumed",
    });
  });
});

describe("the flow queue's grants", () => {
  const flowQueue = arn(squall.flowQueue.queue);
  const flowDeadLetters = arn(squall.flowQueue.deadLetterQueue);
  const consume = (queue: unknown) => ({
    "sqs:ReceiveMessage": [queue],
    "sqs:ChangeMessageVisibility": [queue],
    "sqs:GetQueueUrl": [queue],
    "sqs:DeleteMessage": [queue],
    "sqs:GetQueueAttributes": [queue],
  });

  it("let the flow-runner consume it and send to it (a run handed on), besides its task sends", () => {
    const sendsAndQueueInfo = ["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"];
    const grants = sqsGrants(squall.flowRunner);
    const onFlowQueue = Object.fromEntries(
      Object.entries(grants)
        .map(([action, queues]) => [
          action,
          queues.filter((q) => JSON.stringify(q) === JSON.stringify(flowQueue)),
        ])
        .filter(([, queues]) => (queues as unknown[]).length > 0),
    );
    const { "sqs:GetQueueUrl": url, "sqs:GetQueueAttributes": attributes, ...consumed } = consume(flowQueue);
    // Sending grants GetQueueUrl and GetQueueAttributes as consuming does: each appears twice.
    expect(onFlowQueue).toEqual({
      ...consumed,
      "sqs:SendMessage": [flowQueue],
      "sqs:GetQueueUrl": [...url, ...url],
      "sqs:GetQueueAttributes": [...attributes, ...attributes],
    });
    expect(Object.keys(grants).sort()).toEqual(
      [...sendsAndQueueInfo, "sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:ReceiveMessage"].sort(),
    );
    expect(grants["sqs:ReceiveMessage"]).toEqual([flowQueue]);
  });

  it("let the coordinator consume its dead letters and send to it", () => {
    const grants = sqsGrants(squall.coordinator);
    expect(grants["sqs:SendMessage"]).toEqual([flowQueue]);
    expect(grants["sqs:ReceiveMessage"]).toContainEqual(flowDeadLetters);
    expect(grants["sqs:DeleteMessage"]).toContainEqual(flowDeadLetters);
    expect(grants["sqs:ChangeMessageVisibility"]).toContainEqual(flowDeadLetters);
    expect(grants["sqs:ReceiveMessage"]).not.toContainEqual(flowQueue);
  });

  it("let no worker reach it", () => {
    const grants = JSON.stringify(sqsGrants(squall.worker));
    expect(grants).not.toContain(logicalId(squall.flowQueue.queue));
    expect(grants).not.toContain(logicalId(squall.flowQueue.deadLetterQueue));
  });

  it("let the flow-runner read run keys (to resume a run) as well as write them", () => {
    const role = logicalId(squall.flowRunner.grantPrincipal as Role);
    const keys = { "Fn::Join": ["", [arn(squall.results.bucket), "/keys/*"]] };
    const onKeys = Object.values(template.findResources("AWS::IAM::Policy"))
      .filter((policy) => policy.Properties.Roles.some((r: { Ref: string }) => r.Ref === role))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement)
      .filter((statement) => JSON.stringify(statement.Resource) === JSON.stringify(keys))
      .flatMap((statement) => [statement.Action].flat())
      .sort();
    expect(onKeys).toEqual(["s3:GetObject", "s3:PutObject"]);
  });
});
