// The template's queues and buckets created on the emulator, and a physical name for every
// other resource, as CloudFormation names what the template does not.
import { CreateBucketCommand, type S3Client } from "@aws-sdk/client-s3";
import { CreateQueueCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { type PhysicalResource, type ResolveContext, resolve } from "./intrinsics.js";
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
} from "./physical-names.js";
import type { StackTemplate } from "./template.js";

export interface QueueInfo {
  readonly name: string;
  readonly url: string;
  readonly arn: string;
}

/** A physical name for every resource, as CloudFormation generates them when the template names none. */
export function nameResources(
  stack: StackTemplate,
  place: Place,
  resources: Map<string, PhysicalResource>,
): void {
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

export async function createBuckets(
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
export async function createQueues(
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
