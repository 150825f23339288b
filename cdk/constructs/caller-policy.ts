// The managed policy a caller of the stack needs (a laptop's role, a CI job, a Lambda of another
// stack that starts flows): exact actions on this stack's own resources, each for one reason.
import { Stack } from "aws-cdk-lib";
import { ManagedPolicy, PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import type { IBucket } from "aws-cdk-lib/aws-s3";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { KEYS_PREFIX, RUNS_PREFIX } from "./result-bucket.js";

export interface CallerPolicyProps {
  readonly tasks: IQueue;
  readonly completions: IQueue;
  readonly bucket: IBucket;
  readonly flowRunner: IFunction;
}

/** Why a caller needs each permission: the README lists the same. */
export const CALLER_PERMISSIONS = {
  SendTaskRuns: "send task runs to the task queue, and the flow-returned notice to the completion queue",
  ReadAndWriteRecords:
    "follow the run's record, read stored results, and store arguments too large for a message, under runs/",
  WriteRunKeys: "write each flow run's signing key (and mark it cancelled) under keys/",
  ListBucket:
    "S3 answers 403 instead of 404 for a record segment not written yet without it; `squall runs` lists runs",
  FindStack: "resolve `LambdaTaskRunner({ stack })` and `squall ... --stack` from the stack's outputs",
  StartFlows: "start flows by name through the flow-runner function",
} as const;

export class CallerPolicy extends Construct {
  readonly policy: ManagedPolicy;

  constructor(scope: Construct, id: string, props: CallerPolicyProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const statement = (sid: keyof typeof CALLER_PERMISSIONS, actions: string[], resources: string[]) =>
      new PolicyStatement({ sid, actions, resources });
    this.policy = new ManagedPolicy(this, "Policy", {
      description: `squall caller of stack ${stack.stackName}: send flows' task runs, follow their records, start flows`,
      statements: [
        statement("SendTaskRuns", ["sqs:SendMessage"], [props.tasks.queueArn, props.completions.queueArn]),
        statement(
          "ReadAndWriteRecords",
          ["s3:GetObject", "s3:PutObject"],
          [props.bucket.arnForObjects(`${RUNS_PREFIX}*`)],
        ),
        statement("WriteRunKeys", ["s3:PutObject"], [props.bucket.arnForObjects(`${KEYS_PREFIX}*`)]),
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
      ],
    });
  }
}
