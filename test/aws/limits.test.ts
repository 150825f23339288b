// One test per AWS limit or behaviour the harness holds the stack to, each showing that the
// harness enforces it: Lambda's on the functions of a synthetic stack (a function answering 7 MB,
// one that always fails), SQS's and IAM's on the synthesized stack's queues, bucket and roles.
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import {
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type DeployedStack, deployStack } from "./harness/deployed-stack.js";
import type { Credentials } from "./harness/principals.js";
import { documentedCallerPolicy, logicalIdOf, readTemplate } from "./support/caller-policy.js";
import { writeSyntheticStack } from "./support/synthetic-stack.js";

const cloudAssembly = inject("squallCloudAssembly");
const template = readTemplate(cloudAssembly);

/** The error a promise rejected with; fails the test if it resolved. */
async function rejection(
  promise: Promise<unknown>,
): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected the call to fail");
}

const s3As = (stack: DeployedStack, credentials: Credentials) =>
  new S3Client({
    endpoint: stack.endpoint,
    region: stack.region,
    credentials,
    forcePathStyle: true,
    maxAttempts: 1,
  });
const sqsAs = (stack: DeployedStack, credentials: Credentials) =>
  new SQSClient({
    endpoint: stack.endpoint,
    region: stack.region,
    credentials,
    useQueueUrlAsEndpoint: false,
    maxAttempts: 1,
  });

describe("Lambda's limits, on the functions of a synthetic stack", () => {
  const synthetic = writeSyntheticStack("Limits", {
    Big: { handler: "bigResponse", memoryMb: 256 },
    Echo: { handler: "echo" },
    Ticking: { handler: "ticking" },
    Sleeps: { handler: "sleeps", timeoutSeconds: 1 },
    Allocates: { handler: "allocates", timeoutSeconds: 20, memoryMb: 128 },
    Fails: { handler: "fails" },
    FailsOnce: { handler: "fails", maximumRetryAttempts: 0 },
  });
  let stack: DeployedStack;
  let lambda: LambdaClient;

  beforeAll(async () => {
    stack = await deployStack({
      cloudAssembly: synthetic.cloudAssembly,
      stackName: "Limits",
      callerPolicy: { Statement: [{ Effect: "Allow", Action: "lambda:InvokeFunction", Resource: "*" }] },
      asyncRetryDelaysMs: [100, 200],
    });
    lambda = new LambdaClient({
      endpoint: stack.endpoint,
      region: stack.region,
      credentials: stack.caller("invoker"),
    });
  });
  afterAll(async () => {
    lambda?.destroy();
    await stack?.stop();
    synthetic.remove();
  });

  async function invoke(logicalId: string, payload: unknown = {}, type?: "Event" | "RequestResponse") {
    const answer = await lambda.send(
      new InvokeCommand({
        FunctionName: stack.fn(logicalId).config.name,
        Payload: typeof payload === "string" ? payload : JSON.stringify(payload),
        InvocationType: type,
      }),
    );
    const text = Buffer.from(answer.Payload ?? new Uint8Array()).toString("utf8");
    return { status: answer.StatusCode, functionError: answer.FunctionError, text };
  }

  it("answers a synchronous response over 6 MB as Lambda does: a function error, Function.ResponseSizeTooLarge", async () => {
    const answer = await invoke("Big");

    expect(answer.status).toBe(200);
    expect(answer.functionError).toBe("Unhandled");
    expect(JSON.parse(answer.text)).toEqual({
      errorType: "Function.ResponseSizeTooLarge",
      errorMessage: "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
    });
    stack.setLimits({ lambdaPayloads: false });
    try {
      expect((await invoke("Big")).text).toHaveLength(7_000_002); // the JSON string, quotes and all
    } finally {
      stack.setLimits({});
    }
  });

  it("refuses a synchronous request over 6 MB and an Event request over 256 KiB with 413", async () => {
    const tooLarge = await rejection(invoke("Echo", { text: "x".repeat(6_291_556) }));
    expect(tooLarge.name).toBe("RequestTooLargeException");
    expect(tooLarge.$metadata?.httpStatusCode).toBe(413);
    const eventTooLarge = await rejection(invoke("Echo", { text: "x".repeat(262_144) }, "Event"));
    expect(eventTooLarge.name).toBe("RequestTooLargeException");
    expect(stack.fn("Echo").invocations).toEqual([]);
  });

  it("kills an invocation at the function's timeout and runs the next in a new environment; reuses one that ended well", async () => {
    for (const _ of [1, 2]) {
      const answer = await invoke("Sleeps");
      expect(answer.functionError).toBe("Unhandled");
      expect(JSON.parse(answer.text)).toEqual({
        errorType: "Sandbox.Timedout",
        errorMessage: expect.stringMatching(
          /^RequestId: [0-9a-f-]+ Error: Task timed out after 1\.00 seconds$/,
        ),
      });
    }
    const [first, second] = stack.fn("Sleeps").invocations;
    expect(second?.logStreamName).not.toBe(first?.logStreamName);
    expect((second?.endedAt ?? 0) - (second?.startedAt ?? 0)).toBeLessThan(2_000);

    const a = JSON.parse((await invoke("Echo", { n: 1 })).text);
    const b = JSON.parse((await invoke("Echo", { n: 2 })).text);
    expect(a.event).toEqual({ n: 1 });
    expect([b.logStreamName, b.pid]).toEqual([a.logStreamName, a.pid]);
  });

  it("ends an invocation that outgrows the function's memory as Runtime.OutOfMemory", async () => {
    const answer = await invoke("Allocates");

    expect(answer.functionError).toBe("Unhandled");
    expect(JSON.parse(answer.text)).toMatchObject({
      errorType: "Runtime.OutOfMemory",
      errorMessage: expect.stringMatching(/^RequestId: [0-9a-f-]+ Error: Runtime exited with error: /),
    });
  });

  it("freezes an environment between invocations: its timers do not run meanwhile", async () => {
    const before = Number((await invoke("Ticking")).text);
    await new Promise((resolve) => setTimeout(resolve, 600));
    const after = Number((await invoke("Ticking")).text);

    // Unfrozen, a 10 ms timer would have fired about 60 times.
    expect(after - before).toBeLessThan(20);
  });

  it("retries a failed Event invocation twice, unless the function's EventInvokeConfig says otherwise", async () => {
    expect((await invoke("Fails", {}, "Event")).status).toBe(202);
    expect((await invoke("FailsOnce", {}, "Event")).status).toBe(202);
    await stack.asyncOf(stack.fn("Fails")).settled();
    await stack.asyncOf(stack.fn("FailsOnce")).settled();

    const attempts = (logicalId: string) =>
      stack.fn(logicalId).invocations.map((i) => [i.source, i.attempt, i.result]);
    expect(attempts("Fails")).toEqual([
      ["Event", 1, "Error"],
      ["Event", 2, "Error"],
      ["Event", 3, "Error"],
    ]);
    expect(attempts("FailsOnce")).toEqual([["Event", 1, "Error"]]);
    const [first, second] = stack.fn("Fails").invocations;
    // The retry waits its (scaled) 100 ms delay; Node's timers may fire a millisecond early by Date.now().
    expect((second?.startedAt ?? 0) - (first?.endedAt ?? 0)).toBeGreaterThanOrEqual(99);
  });
});

describe("an event source mapping, on a synthetic stack", () => {
  // A queue redriving to a dead-letter queue after 2 receives, its messages hidden 3 s per receive
  // (no less than the function's timeout, or Lambda would refuse the mapping), feeding a function
  // that reports the records whose body starts with "fail" as failed. The mapping polls with the
  // function's role, which the policy lets receive and delete; one environment, so one poller.
  const queueArn = { "Fn::GetAtt": ["Queue", "Arn"] };
  const synthetic = writeSyntheticStack(
    "Mapping",
    { Partial: { handler: "partial" } },
    {
      DeadLetters: { Type: "AWS::SQS::Queue", Properties: {} },
      Queue: {
        Type: "AWS::SQS::Queue",
        Properties: {
          VisibilityTimeout: 3,
          RedrivePolicy: {
            deadLetterTargetArn: { "Fn::GetAtt": ["DeadLetters", "Arn"] },
            maxReceiveCount: 2,
          },
        },
      },
      Mapping: {
        Type: "AWS::Lambda::EventSourceMapping",
        Properties: {
          FunctionName: { Ref: "Partial" },
          EventSourceArn: queueArn,
          BatchSize: 10,
          MaximumBatchingWindowInSeconds: 1,
          FunctionResponseTypes: ["ReportBatchItemFailures"],
        },
      },
      Policy: {
        Type: "AWS::IAM::Policy",
        Properties: {
          PolicyName: "poll",
          Roles: [{ Ref: "Role" }],
          PolicyDocument: {
            Statement: [
              {
                Effect: "Allow",
                Action: [
                  "sqs:ReceiveMessage",
                  "sqs:DeleteMessage",
                  "sqs:ChangeMessageVisibility",
                  "sqs:GetQueueAttributes",
                ],
                Resource: queueArn,
              },
            ],
          },
        },
      },
    },
  );
  let stack: DeployedStack;

  beforeAll(async () => {
    stack = await deployStack({
      cloudAssembly: synthetic.cloudAssembly,
      stackName: "Mapping",
      callerPolicy: { Statement: [] },
      maxEnvironments: 1,
    });
  });
  afterAll(async () => {
    await stack?.stop();
    synthetic.remove();
  });

  it("batches within the window, deletes what succeeded, and redelivers what was reported failed until the dead-letter queue", async () => {
    const queue = stack.queues.get("Queue")?.url as string;
    const deadLetters = stack.queues.get("DeadLetters")?.url as string;
    await stack.admin.sqs.send(new SendMessageCommand({ QueueUrl: queue, MessageBody: "ok" }));
    await stack.admin.sqs.send(new SendMessageCommand({ QueueUrl: queue, MessageBody: "fail" }));

    const moved: (string | undefined)[] = [];
    for (const until = Date.now() + 15_000; moved.length === 0 && Date.now() < until; ) {
      const { Messages = [] } = await stack.admin.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: deadLetters, WaitTimeSeconds: 1 }),
      );
      moved.push(...Messages.map((message) => message.Body));
    }

    expect(moved).toEqual(["fail"]);
    // Both in the first batch (the window gathered them), the failed one alone in the second.
    const batches = stack.fn("Partial").invocations.map((i) => i.records?.map((r) => r.receiveCount));
    expect(batches).toEqual([[1, 1], [2]]);
    expect(await stack.quiet(5_000)).toBe(true);
  });
});

describe("a mapping Lambda would refuse", () => {
  it("is refused at deployment: a queue's visibility timeout shorter than its function's timeout", async () => {
    const synthetic = writeSyntheticStack(
      "Refused",
      { Echo: { handler: "echo", timeoutSeconds: 3 } },
      {
        Queue: { Type: "AWS::SQS::Queue", Properties: { VisibilityTimeout: 1 } },
        Mapping: {
          Type: "AWS::Lambda::EventSourceMapping",
          Properties: { FunctionName: { Ref: "Echo" }, EventSourceArn: { "Fn::GetAtt": ["Queue", "Arn"] } },
        },
      },
    );
    try {
      const refused = await rejection(
        deployStack({
          cloudAssembly: synthetic.cloudAssembly,
          stackName: "Refused",
          callerPolicy: { Statement: [] },
        }),
      );
      expect(refused.message).toBe(
        "Mapping: Queue visibility timeout: 1 seconds is less than Function timeout: 3 seconds (Lambda refuses this mapping)",
      );
    } finally {
      synthetic.remove();
    }
  });
});

describe("SQS's limits and IAM, on the synthesized stack", () => {
  let stack: DeployedStack;
  let admin: SQSClient;
  /** A queue of the stack that nothing consumes: the completions' dead-letter queue. */
  let idleQueue: string;

  beforeAll(async () => {
    stack = await deployStack({ cloudAssembly, callerPolicy: documentedCallerPolicy(template) });
    admin = stack.admin.sqs;
    idleQueue = stack.queues.get(logicalIdOf(template, "AWS::SQS::Queue", "SquallCompletionsDeadLetters"))
      ?.url as string;
  });
  afterAll(() => stack?.stop());

  const bodiesOn = async (queueUrl: string) => {
    const { Messages = [] } = await admin.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        VisibilityTimeout: 60,
      }),
    );
    return Messages.map((message) => message.Body);
  };

  it("creates the template's queues with their visibility timeouts and redrive policies", async () => {
    const tasks = stack.queues.get(logicalIdOf(template, "AWS::SQS::Queue", "SquallTasksQueue"));
    const deadLetters = stack.queues.get(logicalIdOf(template, "AWS::SQS::Queue", "SquallTasksDeadLetters"));
    const { Attributes } = await admin.send(
      new GetQueueAttributesCommand({
        QueueUrl: tasks?.url,
        AttributeNames: ["VisibilityTimeout", "RedrivePolicy"],
      }),
    );

    expect(Attributes?.VisibilityTimeout).toBe("360");
    expect(JSON.parse(Attributes?.RedrivePolicy ?? "{}")).toEqual({
      deadLetterTargetArn: deadLetters?.arn,
      maxReceiveCount: 10,
    });
  });

  it("refuses a body with U+FFFF (InvalidMessageContents), and fails only that entry of a batch", async () => {
    const refused = await rejection(
      admin.send(new SendMessageCommand({ QueueUrl: idleQueue, MessageBody: "zaphod\uFFFF" })),
    );
    expect(refused.name).toBe("InvalidMessageContents");
    expect(refused.message).toContain("Invalid binary character '#xFFFF' was found in the message body");

    const batch = await admin.send(
      new SendMessageBatchCommand({
        QueueUrl: idleQueue,
        Entries: [
          { Id: "bad", MessageBody: "zaphod\uFFFF" },
          { Id: "good", MessageBody: "arthur" },
        ],
      }),
    );
    expect(batch.Successful?.map((entry) => entry.Id)).toEqual(["good"]);
    expect(batch.Failed).toEqual([
      {
        Id: "bad",
        SenderFault: true,
        Code: "InvalidMessageContents",
        Message: expect.stringContaining("'#xFFFF'"),
      },
    ]);
    expect(await bodiesOn(idleQueue)).toEqual(["arthur"]);
  });

  it("refuses messages and batch calls over 256 KiB, and batch calls of more than 10 entries", async () => {
    const tooLong = await rejection(
      admin.send(new SendMessageCommand({ QueueUrl: idleQueue, MessageBody: "x".repeat(262_145) })),
    );
    expect(tooLong.name).toBe("InvalidParameterValue");
    await admin.send(new SendMessageCommand({ QueueUrl: idleQueue, MessageBody: "x".repeat(262_144) }));
    const batchTooLong = await rejection(
      admin.send(
        new SendMessageBatchCommand({
          QueueUrl: idleQueue,
          Entries: [
            { Id: "a", MessageBody: "x".repeat(140_000) },
            { Id: "b", MessageBody: "y".repeat(140_000) },
          ],
        }),
      ),
    );
    expect(batchTooLong.name).toBe("BatchRequestTooLong");
    const tooMany = await rejection(
      admin.send(
        new SendMessageBatchCommand({
          QueueUrl: idleQueue,
          Entries: Array.from({ length: 11 }, (_, i) => ({ Id: `m${i}`, MessageBody: "x" })),
        }),
      ),
    );
    expect(tooMany.name).toBe("TooManyEntriesInBatchRequest");
  });

  it("answers a GET or HEAD of a missing key 403 to a role without s3:ListBucket, and 404 to one with it", async () => {
    const bucket = stack.outputs.BucketName;
    const key = "runs/00000000-0000-4000-8000-000000000000/log/00000000";
    // The documented rights without s3:ListBucket (the stack's SquallCaller policy has it).
    const caller = s3As(stack, stack.caller("no-list", documentedCallerPolicy(template)));
    const worker = s3As(stack, stack.fn("SquallWorkerFunction").config.credentials);
    try {
      const denied = await rejection(caller.send(new GetObjectCommand({ Bucket: bucket, Key: key })));
      expect([denied.name, denied.$metadata?.httpStatusCode]).toEqual(["AccessDenied", 403]);
      expect(denied.message).toMatch(
        /not authorized to perform: s3:ListBucket on resource: "arn:aws:s3:::squall-/,
      );
      const deniedHead = await rejection(caller.send(new HeadObjectCommand({ Bucket: bucket, Key: key })));
      expect(deniedHead.$metadata?.httpStatusCode).toBe(403);

      const missing = await rejection(worker.send(new GetObjectCommand({ Bucket: bucket, Key: key })));
      expect([missing.name, missing.$metadata?.httpStatusCode]).toEqual(["NoSuchKey", 404]);
      const missingHead = await rejection(worker.send(new HeadObjectCommand({ Bucket: bucket, Key: key })));
      expect(missingHead.$metadata?.httpStatusCode).toBe(404);
      expect(
        stack.denials.filter((d) => d.principal === "caller no-list").map((d) => [d.operation, d.action]),
      ).toEqual([
        ["GetObject", "s3:ListBucket"],
        ["HeadObject", "s3:ListBucket"],
      ]);
    } finally {
      caller.destroy();
      worker.destroy();
    }
  });

  it("refuses each role what its policies do not allow, saying which action, and refuses unknown keys", async () => {
    const bucket = stack.outputs.BucketName;
    const caller = s3As(stack, stack.caller("rights"));
    const workerSqs = sqsAs(stack, stack.fn("SquallWorkerFunction").config.credentials);
    const stranger = s3As(stack, { accessKeyId: "AKIANOTGIVENTOANYONE", secretAccessKey: "x" });
    try {
      // A caller opens runs; only the coordinator closes them.
      await caller.send(new PutObjectCommand({ Bucket: bucket, Key: "open/x", Body: "x" }));
      const close = await rejection(caller.send(new DeleteObjectCommand({ Bucket: bucket, Key: "open/x" })));
      expect(close.name).toBe("AccessDenied");
      expect(close.message).toMatch(
        /^User: arn:aws:sts::000000000000:assumed-role\/SquallCaller\/rights is not authorized to perform: s3:DeleteObject on resource: "arn:aws:s3:::squall-[a-z0-9-]+\/open\/x" because no identity-based policy allows the s3:DeleteObject action$/,
      );
      await caller.send(new PutObjectCommand({ Bucket: bucket, Key: "runs/x/payloads/y", Body: "x" }));
      const readKey = await rejection(caller.send(new GetObjectCommand({ Bucket: bucket, Key: "keys/x" })));
      expect(readKey.name).toBe("AccessDenied");

      const send = await rejection(
        workerSqs.send(new SendMessageCommand({ QueueUrl: idleQueue, MessageBody: "x" })),
      );
      expect(send.message).toContain(
        'is not authorized to perform: sqs:SendMessage on resource: "arn:aws:sqs:us-east-1:000000000000:Squall-SquallCompletionsDeadLetters',
      );

      const unknown = await rejection(
        stranger.send(new GetObjectCommand({ Bucket: bucket, Key: "runs/x/payloads/y" })),
      );
      expect(unknown.name).toBe("InvalidAccessKeyId");
    } finally {
      caller.destroy();
      workerSqs.destroy();
      stranger.destroy();
    }
  });
});

describe("throttling and lost answers, on the synthesized stack", () => {
  let stack: DeployedStack;

  // Visibility timeouts of 2 s instead of the template's 6 minutes: throttled messages come back soon.
  beforeAll(async () => {
    stack = await deployStack({
      cloudAssembly,
      callerPolicy: documentedCallerPolicy(template),
      visibilityTimeoutSeconds: 2,
    });
  });
  afterAll(() => stack?.stop());

  it("lets a throttled batch go back uninvoked: its receive count rises with no invocation", async () => {
    const worker = stack.fn("SquallWorkerFunction");
    stack.throttle({ when: (body) => body === "throttled twice", times: 2 });
    const sent = await stack.admin.sqs.send(
      new SendMessageCommand({ QueueUrl: stack.outputs.TaskQueueUrl, MessageBody: "throttled twice" }),
    );
    const until = Date.now() + 15_000;
    while (
      !worker.invocations.some((i) => i.records?.some((r) => r.messageId === sent.MessageId)) &&
      Date.now() < until
    ) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    const throttled = stack.throttles.events.filter((event) =>
      event.messageIds.includes(sent.MessageId as string),
    );
    expect(throttled.map((event) => event.receiveCounts)).toEqual([[1], [2]]);
    const invoked = worker.invocations.filter((i) => i.records?.some((r) => r.messageId === sent.MessageId));
    expect(invoked.map((i) => i.records)).toEqual([[{ messageId: sent.MessageId, receiveCount: 3 }]]);
  });

  it("loses the answer to an S3 PUT or an SQS send that took effect: a 500, or a dropped connection", async () => {
    const bucket = stack.outputs.BucketName;
    const idleQueue = stack.queues.get(
      logicalIdOf(template, "AWS::SQS::Queue", "SquallCompletionsDeadLetters"),
    )?.url;
    stack.loseResponses({
      when: (call) => call.operation === "PutObject" && call.key === "runs/lost/answer",
    });
    stack.loseResponses({
      when: (call) => call.operation === "SendMessage" && call.queueUrl === idleQueue,
      as: "drop",
    });
    const s3 = s3As(stack, stack.admin.credentials);
    const sqs = sqsAs(stack, stack.admin.credentials);
    try {
      const put = await rejection(
        s3.send(new PutObjectCommand({ Bucket: bucket, Key: "runs/lost/answer", Body: "stored" })),
      );
      expect([put.name, put.$metadata?.httpStatusCode]).toEqual(["InternalError", 500]);
      const stored = await stack.admin.s3.send(
        new GetObjectCommand({ Bucket: bucket, Key: "runs/lost/answer" }),
      );
      expect(await stored.Body?.transformToString()).toBe("stored");

      const send = await rejection(
        sqs.send(new SendMessageCommand({ QueueUrl: idleQueue, MessageBody: "queued" })),
      );
      expect(send.message).toMatch(/socket hang up|ECONNRESET|aborted/i);
      const { Messages = [] } = await stack.admin.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: idleQueue, WaitTimeSeconds: 1, MaxNumberOfMessages: 10 }),
      );
      expect(Messages.map((message) => message.Body)).toEqual(["queued"]);
      expect(stack.lostResponses.events).toEqual([
        { operation: "PutObject", as: "500", key: "runs/lost/answer" },
        { operation: "SendMessage", as: "drop", queueUrl: idleQueue },
      ]);
    } finally {
      s3.destroy();
      sqs.destroy();
    }
  });
});
