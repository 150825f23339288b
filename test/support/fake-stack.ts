import { createServer, request } from "node:http";
import type { SquallAddress } from "../../sdk/aws/address.js";

export interface FakeStack {
  /** One endpoint for CloudFormation, S3 and SQS, as LocalStack has. */
  readonly endpoint: string;
  /** How many DescribeStacks requests it has been sent. */
  describeCalls(): number;
  close(): Promise<void>;
}

export interface FakeStackOptions {
  /** Outputs beyond the queues and bucket, as the stack gives them (`WorkerTimeoutSeconds`). */
  readonly outputs?: Readonly<Record<string, string>>;
  /** Refuse DescribeStacks as AWS refuses a role not granted it (AccessDenied). */
  readonly deny?: boolean;
}

/**
 * A deployed stack named `name` in front of a local environment: CloudFormation's
 * DescribeStacks answers with the stack's outputs (its queues and bucket, as the CDK stack
 * gives them), and every other request goes on to the environment's emulator.
 */
export async function startFakeStack(
  name: string,
  address: SquallAddress,
  options: FakeStackOptions = {},
): Promise<FakeStack> {
  const target = new URL(address.endpoint as string);
  let described = 0;
  const server = createServer((incoming, answer) => {
    const chunks: Buffer[] = [];
    incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
    incoming.on("end", () => {
      const body = Buffer.concat(chunks);
      const form = new URLSearchParams(body.toString());
      if (form.get("Action") === "DescribeStacks") {
        described += 1;
        if (options.deny) {
          answer.writeHead(403, { "content-type": "text/xml" });
          answer.end(deniedXml());
          return;
        }
        answer.writeHead(form.get("StackName") === name ? 200 : 400, { "content-type": "text/xml" });
        answer.end(
          form.get("StackName") === name
            ? stackXml(name, address, options.outputs)
            : missingXml(form.get("StackName")),
        );
        return;
      }
      const forward = request(
        {
          host: target.hostname,
          port: target.port,
          method: incoming.method,
          path: incoming.url,
          headers: { ...incoming.headers, host: target.host },
        },
        (response) => {
          answer.writeHead(response.statusCode ?? 502, response.headers);
          response.pipe(answer);
        },
      );
      forward.on("error", () => answer.destroy());
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    describeCalls: () => described,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function stackXml(name: string, address: SquallAddress, more: Readonly<Record<string, string>> = {}): string {
  const output = (key: string, value: string) =>
    `<member><OutputKey>${key}</OutputKey><OutputValue>${value}</OutputValue></member>`;
  const outputs = Object.entries({
    TaskQueueUrl: address.taskQueueUrl,
    CompletionQueueUrl: address.completionQueueUrl,
    BucketName: address.bucket,
    ...more,
  })
    .map(([key, value]) => output(key, value))
    .join("");
  return `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member><StackName>${name}</StackName><StackStatus>CREATE_COMPLETE</StackStatus><CreationTime>2026-01-01T00:00:00Z</CreationTime><Outputs>${outputs}</Outputs></member></Stacks></DescribeStacksResult></DescribeStacksResponse>`;
}

function deniedXml(): string {
  return `<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:sts::123456789012:assumed-role/SquallFlowRunnerRole/squall-flow-runner is not authorized to perform: cloudformation:DescribeStacks because no identity-based policy allows the cloudformation:DescribeStacks action</Message></Error><RequestId>fake</RequestId></ErrorResponse>`;
}

function missingXml(stack: string | null): string {
  return `<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>Stack with id ${stack} does not exist</Message></Error><RequestId>fake</RequestId></ErrorResponse>`;
}
