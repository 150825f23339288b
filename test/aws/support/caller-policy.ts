// The laptop caller's rights when the template does not carry them (a SquallCaller managed
// policy): what sdk/aws/ARCHITECTURE.md's table gives a caller (send to the task and completion
// queues; get and put under runs/; put under keys/ and open/), plus reading the stack's outputs and invoking
// the flow-runner. No s3:ListBucket: the table does not give it.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { PolicyDocument } from "../harness/principals.js";
import type { CfnTemplate } from "../harness/template.js";

/** The logical id of the one resource of `type` whose id starts with `prefix`. */
export function logicalIdOf(template: CfnTemplate, type: string, prefix: string): string {
  const ids = Object.entries(template.Resources)
    .filter(([id, resource]) => resource.Type === type && id.startsWith(prefix))
    .map(([id]) => id);
  if (ids.length !== 1)
    throw new Error(`Expected one ${type} named ${prefix}*, found ${ids.join(", ") || "none"}`);
  return ids[0] as string;
}

export function readTemplate(cloudAssembly: string, stackName = "Squall"): CfnTemplate {
  return JSON.parse(readFileSync(join(cloudAssembly, `${stackName}.template.json`), "utf8")) as CfnTemplate;
}

const arn = (id: string) => ({ "Fn::GetAtt": [id, "Arn"] });
const under = (bucket: string, prefix: string) => ({ "Fn::Join": ["", [arn(bucket), `/${prefix}*`]] });

export function documentedCallerPolicy(template: CfnTemplate): PolicyDocument {
  const tasks = logicalIdOf(template, "AWS::SQS::Queue", "SquallTasksQueue");
  const completions = logicalIdOf(template, "AWS::SQS::Queue", "SquallCompletionsQueue");
  const bucket = logicalIdOf(template, "AWS::S3::Bucket", "SquallResultsBucket");
  const flowRunner = logicalIdOf(template, "AWS::Lambda::Function", "SquallFlowRunnerFunction");
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Action: ["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"],
        Resource: [arn(tasks), arn(completions)],
      },
      {
        Effect: "Allow",
        Action: ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
        Resource: under(bucket, "runs/"),
      },
      { Effect: "Allow", Action: "s3:PutObject", Resource: under(bucket, "keys/") },
      { Effect: "Allow", Action: "s3:PutObject", Resource: under(bucket, "open/") },
      { Effect: "Allow", Action: "cloudformation:DescribeStacks", Resource: { Ref: "AWS::StackId" } },
      { Effect: "Allow", Action: "lambda:InvokeFunction", Resource: arn(flowRunner) },
    ],
  };
}

/** The same, and s3:ListBucket on the bucket (so that reads of keys not yet written are 404s). */
export function callerPolicyWithList(template: CfnTemplate): PolicyDocument {
  const bucket = logicalIdOf(template, "AWS::S3::Bucket", "SquallResultsBucket");
  const documented = documentedCallerPolicy(template);
  return {
    ...documented,
    Statement: [...documented.Statement, { Effect: "Allow", Action: "s3:ListBucket", Resource: arn(bucket) }],
  };
}
