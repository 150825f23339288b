// CloudFormation's DescribeStacks on the emulator's endpoint, for the deployed stack: its outputs
// resolved from the template, so that `LambdaTaskRunner({ stack })` and `squall --stack` find the
// queues and bucket as they would on AWS. Any other stack "does not exist", as CloudFormation says.
import type { FastifyInstance, FastifyRequest } from "fastify";
import { escapeXml, sendAwsError } from "./aws-errors.js";
import type { AwsCall } from "./aws-request.js";

export interface DescribedStack {
  readonly name: string;
  readonly id: string;
  readonly description?: string;
  readonly outputs: Readonly<Record<string, { readonly value: string; readonly description?: string }>>;
}

export interface CloudFormationApiOptions {
  readonly callOf: (request: FastifyRequest) => AwsCall;
  readonly passes: (request: FastifyRequest) => boolean;
  readonly stack: DescribedStack;
}

export function installCloudFormationApi(app: FastifyInstance, options: CloudFormationApiOptions): void {
  app.addHook("preHandler", async (request, reply) => {
    if (options.passes(request)) return;
    const call = options.callOf(request);
    if (call.service !== "cloudformation") return;
    const { stack } = options;
    if (call.operation !== "DescribeStacks") {
      return sendAwsError(reply, "cloudformation", {
        status: 400,
        code: "InvalidAction",
        message: `The harness serves DescribeStacks only, not ${call.operation}`,
      });
    }
    const asked = String((request.body as { StackName?: unknown } | undefined)?.StackName ?? stack.name);
    if (asked !== stack.name && asked !== stack.id) {
      return sendAwsError(reply, "cloudformation", {
        status: 400,
        code: "ValidationError",
        message: `Stack with id ${asked} does not exist`,
      });
    }
    return reply.code(200).header("content-type", "text/xml").send(describeStacksXml(stack));
  });
}

export function describeStacksXml(stack: DescribedStack): string {
  const outputs = Object.entries(stack.outputs)
    .map(
      ([key, { value, description }]) =>
        `<member><OutputKey>${escapeXml(key)}</OutputKey><OutputValue>${escapeXml(value)}</OutputValue>${
          description ? `<Description>${escapeXml(description)}</Description>` : ""
        }</member>`,
    )
    .join("");
  return `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member><StackId>${escapeXml(stack.id)}</StackId><StackName>${escapeXml(stack.name)}</StackName>${
    stack.description ? `<Description>${escapeXml(stack.description)}</Description>` : ""
  }<StackStatus>CREATE_COMPLETE</StackStatus><CreationTime>2026-01-01T00:00:00Z</CreationTime><Outputs>${outputs}</Outputs></member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>harness</RequestId></ResponseMetadata></DescribeStacksResponse>`;
}
