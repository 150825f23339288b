// The managed policy a caller of the stack needs (a laptop's role, a CI job, a Lambda of another
// stack that starts flows): exact actions on this stack's own resources, each for one reason.
import { Stack } from "aws-cdk-lib";
import { ManagedPolicy, PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import type { IBucket } from "aws-cdk-lib/aws-s3";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { KEYS_PREFIX, OPEN_PREFIX, RUNS_PREFIX } from "./result-bucket.js";

export interface CallerPolicyProps {
  /** The task queues: the default pool's and each worker pool's. */
  readonly tasks: readonly IQueue[];
  readonly completions: IQueue;
  readonly bucket: IBucket;
  readonly flowRunner: IFunction;
  /** Where durable flow runs are started (`startFlowRun`). */
  readonly flowQueue: IQueue;
}

/** The policy's statements, each one reason a caller has (the README lists them with why). */
type CallerStatement =
  | "SendTaskRuns"
  | "ReadAndWriteRecords"
  | "WriteRunKeys"
  | "OpenRuns"
  | "ListBucket"
  | "FindStack"
  | "StartFlows"
  | "StartFlowRuns";

export class CallerPolicy extends Construct {
  readonly policy: ManagedPolicy;

  constructor(scope: Construct, id: string, props: CallerPolicyProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const statement = (sid: CallerStatement, actions: string[], resources: string[]) =>
      new PolicyStatement({ sid, actions, resources });
    this.policy = new ManagedPolicy(this, "Policy", {
      description: `squall caller of stack ${stack.stackName}: send flows' task runs, follow their records, start flows`,
      statements: [
        statement(
          "SendTaskRuns",
          ["sqs:SendMessage"],
          [...props.tasks.map((queue) => queue.queueArn), props.completions.queueArn],
        ),
        statement(
          "ReadAndWriteRecords",
          ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
          [props.bucket.arnForObjects(`${RUNS_PREFIX}*`)],
        ),
        statement("WriteRunKeys", ["s3:PutObject"], [props.bucket.arnForObjects(`${KEYS_PREFIX}*`)]),
        statement("OpenRuns", ["s3:PutObject"], [props.bucket.arnForObjects(`${OPEN_PREFIX}*`)]),
        statement("ListBucket", ["s3:ListBucket"], [props.bucket.bucketArn]),
        statement(
          "FindStack",
          ["cloudformation:DescribeStacks"],
          [
            stack.formatArn({
              service: "cloudformation",
              resource: "stack",
              resourceName: `${stack.stackName}/*`,
            }),
          ],
        ),
        statement("StartFlows", ["lambda:InvokeFunction"], [props.flowRunner.functionArn]),
        statement("StartFlowRuns", ["sqs:SendMessage"], [props.flowQueue.queueArn]),
      ],
    });
  }
}
