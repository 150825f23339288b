// The local environment's flow queue: the emulated event source mapping that feeds the
// flow-runner (one message per invocation, the flow-runner's timeout, partial batch responses,
// redrive to the dead-letter queue the coordinator takes), and kill("flow-runner"). The two
// functions' handlers are stand-ins that record what they get (test/fixtures/recording-handler.ts).
import { randomUUID } from "node:crypto";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { GetQueueAttributesCommand, SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { type LocalEnvironment, startLocalEnvironment } from "squall/aws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sleep } from "../support/async.js";

const RECORDING = "test/fixtures/recording-handler.ts";
const TIMEOUT_SECONDS = 4;
/** The flow-runner's timeout and 30 s: how long a flow-queue message stays hidden. */
const VISIBILITY_MS = (TIMEOUT_SECONDS + 30) * 1000;

interface Recorded {
  readonly at: number;
  readonly remainingMs?: number;
  readonly records?: {
    messageId: string;
    body: string;
    eventSourceARN: string;
    attributes: { ApproximateReceiveCount: string };
  }[];
  readonly invoked?: unknown;
  readonly ranOn?: string;
  readonly variables: { SQUALL_FLOW_QUEUE_URL?: string; SQUALL_FLOW_DEAD_LETTER_QUEUE_ARN?: string };
}

let local: LocalEnvironment;
let lambda: LambdaClient;
let s3: S3Client;
let sqs: SQSClient;
let flowQueueUrl: string;
let flowQueueArn: string;
let deadLetterArn: string;

beforeAll(async () => {
  local = await startLocalEnvironment({
    workers: 1,
    flows: "test/fixtures/flow-runner-flows.ts",
    flowRunnerTimeoutSeconds: TIMEOUT_SECONDS,
    sweepSeconds: 3600,
    handlers: { flowRunner: RECORDING, coordinator: RECORDING },
  });
  lambda = new LambdaClient({
    endpoint: local.address.endpoint,
    region: local.address.region,
    credentials: { accessKeyId: "squall-local", secretAccessKey: "squall-local" },
  });
  s3 = local.emulator.s3Client();
  sqs = local.emulator.sqsClient();
  flowQueueUrl = local.address.flowQueueUrl as string;
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: flowQueueUrl, AttributeNames: ["QueueArn", "RedrivePolicy"] }),
  );
  flowQueueArn = Attributes?.QueueArn as string;
  deadLetterArn = JSON.parse(Attributes?.RedrivePolicy as string).deadLetterTargetArn;
}, 30_000);
afterAll(async () => {
  lambda?.destroy();
  s3?.destroy();
  sqs?.destroy();
  await local?.stop();
});

/** Everything the stand-in handlers recorded so far, in order. */
async function recorded(): Promise<Recorded[]> {
  const listed = await s3.send(
    new ListObjectsV2Command({ Bucket: local.address.bucket, Prefix: "recorded/" }),
  );
  const keys = (listed.Contents ?? []).map((object) => object.Key as string).sort();
  return Promise.all(
    keys.map(async (key) => {
      const object = await s3.send(new GetObjectCommand({ Bucket: local.address.bucket, Key: key }));
      return JSON.parse(await (object.Body as { transformToString(): Promise<string> }).transformToString());
    }),
  );
}

/** The deliveries of the message with this body from queue `arn`, as the handlers recorded them. */
async function deliveries(body: string, arn = flowQueueArn) {
  return (await recorded()).flatMap((entry) =>
    (entry.records ?? [])
      .filter((record) => record.body === body && record.eventSourceARN === arn)
      .map((record) => ({ ...record, at: entry.at, remainingMs: entry.remainingMs, entry })),
  );
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`Waited ${ms} ms for ${what}`);
    await sleep(100);
  }
}

async function send(asked: "ok" | "fail" | "hang") {
  // A hanging handler whose code still ran a second after the function's timeout records it.
  const ranOnAfterMs = asked === "hang" ? TIMEOUT_SECONDS * 1000 + 1000 : undefined;
  const body = JSON.stringify({ do: asked, id: randomUUID(), ranOnAfterMs });
  const sent = await sqs.send(new SendMessageCommand({ QueueUrl: flowQueueUrl, MessageBody: body }));
  return { body, messageId: sent.MessageId as string };
}

/** The number of the flow queue's messages, visible or held. */
async function messagesInFlowQueue(): Promise<number> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: flowQueueUrl,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }),
  );
  return (
    Number(Attributes?.ApproximateNumberOfMessages) +
    Number(Attributes?.ApproximateNumberOfMessagesNotVisible)
  );
}

async function invoke(payload: unknown) {
  const answer = await lambda.send(
    new InvokeCommand({ FunctionName: local.flowRunnerFunctionName, Payload: JSON.stringify(payload) }),
  );
  return {
    functionError: answer.FunctionError,
    body: JSON.parse(Buffer.from(answer.Payload ?? []).toString("utf8")),
  };
}

describe("the local environment's flow queue", () => {
  it("is in the address and in every function's variables, its dead-letter queue in the coordinator's", async () => {
    expect(flowQueueUrl).toMatch(/\/squall-flows-[0-9a-f]{8}$/);
    expect(deadLetterArn).toMatch(/:squall-flows-dlq-[0-9a-f]{8}$/);
    const answer = await invoke({ hello: "there" });
    expect(answer).toEqual({
      functionError: undefined,
      body: {
        echoed: { hello: "there" },
        variables: { SQUALL_FLOW_QUEUE_URL: flowQueueUrl, SQUALL_FLOW_DEAD_LETTER_QUEUE_ARN: deadLetterArn },
      },
    });
    await local.sweep(); // invokes the coordinator, which records its variables
    const sweep = await until("the sweep", async () =>
      (await recorded()).find((entry) => JSON.stringify(entry.invoked) === '{"squall":"sweep"}'),
    );
    expect(sweep.variables).toEqual({
      SQUALL_FLOW_QUEUE_URL: flowQueueUrl,
      SQUALL_FLOW_DEAD_LETTER_QUEUE_ARN: deadLetterArn,
    });
  });

  it("feeds the flow-runner a message as an SQS event of one record, with the function's timeout counting down, and deletes it once handled", async () => {
    const { body, messageId } = await send("ok");

    const [delivery] = await until("the delivery", async () => {
      const found = await deliveries(body);
      return found.length > 0 ? found : undefined;
    });

    expect(delivery?.entry.records).toEqual([
      {
        messageId,
        receiptHandle: expect.any(String),
        body,
        eventSourceARN: flowQueueArn,
        eventSource: "aws:sqs",
        attributes: { ApproximateReceiveCount: "1" },
      },
    ]);
    expect(delivery?.remainingMs).toBeGreaterThan(TIMEOUT_SECONDS * 1000 - 1000);
    expect(delivery?.remainingMs).toBeLessThanOrEqual(TIMEOUT_SECONDS * 1000);
    await until("the message's deletion", async () =>
      (await messagesInFlowQueue()) === 0 ? true : undefined,
    );
  });

  it("delivers a message the flow-runner reports failed again, and after 5 receives to the dead-letter queue, which the coordinator takes", async () => {
    const { body, messageId } = await send("fail");

    const [dead] = await until(
      "the dead letter",
      async () => {
        const found = await deliveries(body, deadLetterArn);
        return found.length > 0 ? found : undefined;
      },
      15_000,
    );

    expect(dead?.messageId).toBe(messageId);
    const counts = (await deliveries(body)).map((delivery) => delivery.attributes.ApproximateReceiveCount);
    expect(counts).toEqual(["1", "2", "3", "4", "5"]);
    expect(await messagesInFlowQueue()).toBe(0);
  });

  it("runs flow-queue and Invoke API invocations at once, and ends them all when killed, running no more of them; the messages come back after their visibility timeout", async () => {
    const hangs = [await send("hang"), await send("hang")];
    // Both are delivered while neither invocation has ended: they run at once.
    const firsts = await Promise.all(
      hangs.map(({ body }) =>
        until("the first delivery", async () => {
          const found = await deliveries(body);
          return found.length > 0 ? found[0] : undefined;
        }),
      ),
    );
    // Invoke API invocations run alongside, in the same thread.
    expect((await invoke({ alongside: 1 })).body.echoed).toEqual({ alongside: 1 });
    const hanging = invoke({ hang: true });
    await until("the hanging invocation", async () =>
      (await recorded()).find((entry) => JSON.stringify(entry.invoked) === '{"hang":true}'),
    );

    expect(local.kill("flow-runner")).toBe(true);

    expect(await hanging).toEqual({
      functionError: "Unhandled",
      body: {
        errorType: "Runtime.ExitError",
        errorMessage: "The function exited with code 1 during the invocation.",
        trace: [],
      },
    });
    // Killed again, an invocation sent at once is served by its replacement.
    expect(local.kill("flow-runner")).toBe(true);
    expect((await invoke({ after: "kill" })).body.echoed).toEqual({ after: "kill" });
    for (const [i, { body }] of hangs.entries()) {
      const again = await until(
        "the second delivery",
        async () => (await deliveries(body)).find((d) => d.attributes.ApproximateReceiveCount === "2"),
        VISIBILITY_MS + 10_000,
      );
      expect(again.at - (firsts[i]?.at ?? 0)).toBeGreaterThan(VISIBILITY_MS - 2_000);
    }
    // A hanging handler that ran on would have recorded `ranOn` a second after its timeout.
    expect((await recorded()).filter((entry) => entry.ranOn !== undefined)).toEqual([]);
    await until("the messages' deletion", async () =>
      (await messagesInFlowQueue()) === 0 ? true : undefined,
    );
  }, 70_000);

  it("ends an invocation still running at the flow-runner's timeout as Lambda does: its code stops, its message comes back after its visibility timeout", async () => {
    const { body } = await send("hang");
    const [first] = await until("the first delivery", async () => {
      const found = await deliveries(body);
      return found.length > 0 ? found : undefined;
    });

    const again = await until(
      "the second delivery",
      async () => (await deliveries(body)).find((d) => d.attributes.ApproximateReceiveCount === "2"),
      VISIBILITY_MS + 10_000,
    );

    expect(again.at - (first?.at ?? 0)).toBeGreaterThan(VISIBILITY_MS - 2_000);
    // The hanging handler would have recorded `ranOn` a second after its timeout had it run on.
    expect((await recorded()).filter((entry) => entry.ranOn !== undefined)).toEqual([]);
    expect((await invoke({ after: "timeout" })).body.echoed).toEqual({ after: "timeout" });
  }, 70_000);
});

describe("the local environment's flow-runner options", () => {
  it("refuse a concurrency below 1 and a stand-in handler that does not exist", async () => {
    await expect(startLocalEnvironment({ flowRunnerConcurrency: 0 })).rejects.toThrow(
      "Expected `flowRunnerConcurrency` to be an integer >= 1, got `0`",
    );
    await expect(
      startLocalEnvironment({ handlers: { flowRunner: "test/fixtures/nowhere.ts" } }),
    ).rejects.toThrow(
      /^Expected `handlers.flowRunner` to name a module whose `handler` export stands in for the function's, but .*test\/fixtures\/nowhere.ts does not exist\.$/,
    );
  });

  it("make no flow queue and no flow-runner to kill without flows", async () => {
    const bare = await startLocalEnvironment({ workers: 1 });
    try {
      expect(bare.address.flowQueueUrl).toBeUndefined();
      expect(bare.kill("flow-runner")).toBe(false);
    } finally {
      await bare.stop();
    }
  });
});
