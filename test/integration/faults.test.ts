import { randomUUID } from "node:crypto";
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import {
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { type Emulator, startEmulator } from "squall/aws";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

// The fault layer is switched for a whole emulator: this file starts its own, so that the faults it
// injects never reach the emulator the other files share.
let emulator: Emulator;
let s3: S3Client;
let sqs: SQSClient;
let queueUrl: string;
const bucket = `faults-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  emulator = await startEmulator();
  s3 = emulator.s3Client();
  sqs = emulator.sqsClient();
  await emulator.createBucket(bucket);
  queueUrl = await emulator.createQueue(`faults-${randomUUID().slice(0, 8)}`);
});
afterEach(() => emulator.injectFaults(undefined));
afterAll(async () => {
  s3.destroy();
  sqs.destroy();
  await emulator.stop();
});

/** A raw S3 request (ListBuckets), as no SDK would retry it. */
const rawS3 = () => fetch(`${emulator.endpoint}/`);

/** A raw SQS request (JSON protocol). */
const rawSqs = (target: string, body: unknown) =>
  fetch(`${emulator.endpoint}/`, {
    method: "POST",
    headers: { "content-type": "application/x-amz-json-1.0", "x-amz-target": `AmazonSQS.${target}` },
    body: JSON.stringify(body),
  });

async function sequentially<T>(times: number, call: () => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  for (let i = 0; i < times; i++) results.push(await call());
  return results;
}

/** Every message the queue holds now, received (and so hidden) once each. */
async function drain(): Promise<{ id: string; body: string }[]> {
  const messages: { id: string; body: string }[] = [];
  for (;;) {
    const answer = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    const received = answer.Messages ?? [];
    if (received.length === 0) return messages;
    for (const m of received) messages.push({ id: m.MessageId ?? "", body: m.Body ?? "" });
  }
}

const CODES: Record<number, string> = { 500: "InternalError", 503: "ServiceUnavailable" };

describe("the emulator's fault layer", () => {
  it("answers every second raw S3 request with 500 or 503 and an S3 XML error, in turn", async () => {
    const before = emulator.faultsInjected;
    emulator.injectFaults({ rate: 0.5 });

    const answers = await sequentially(6, async () => {
      const response = await rawS3();
      return {
        status: response.status,
        type: response.headers.get("content-type"),
        body: await response.text(),
      };
    });

    expect(answers.map((a) => a.status === 200)).toEqual([true, false, true, false, true, false]);
    const failures = answers.filter((a) => a.status !== 200);
    expect(new Set(failures.map((a) => a.status)).size).toBe(2); // 500 and 503 take turns
    for (const failure of failures) {
      expect([500, 503]).toContain(failure.status);
      expect(failure.type).toContain("application/xml");
      expect(failure.body).toMatch(/^<\?xml version="1\.0" encoding="UTF-8"\?><Error><Code>/);
      expect(failure.body).toContain(`<Code>${CODES[failure.status]}</Code>`);
      expect(failure.body).toContain("<Message>");
    }
    expect(emulator.faultsInjected - before).toBe(3);
  });

  it("answers every second raw SQS request with 500 or 503 and an SQS JSON error", async () => {
    const before = emulator.faultsInjected;
    emulator.injectFaults({ rate: 0.5 });

    const answers = await sequentially(4, async () => {
      const response = await rawSqs("ListQueues", {});
      return {
        status: response.status,
        type: response.headers.get("content-type"),
        body: await response.text(),
      };
    });

    expect(answers.map((a) => a.status === 200)).toEqual([true, false, true, false]);
    for (const failure of answers.filter((a) => a.status !== 200)) {
      expect([500, 503]).toContain(failure.status);
      expect(failure.type).toContain("application/x-amz-json-1.0");
      expect(JSON.parse(failure.body)).toEqual({
        __type: CODES[failure.status],
        message: expect.stringContaining("internal error"),
      });
    }
    expect(JSON.parse(answers[0]?.body ?? "{}")).toHaveProperty("QueueUrls");
    expect(emulator.faultsInjected - before).toBe(2);
  });

  it("answers with the statuses given, taking turns", async () => {
    emulator.injectFaults({ rate: 1, statuses: [503, 429] });

    const statuses = await sequentially(4, async () => (await rawS3()).status);

    expect(new Set(statuses)).toEqual(new Set([503, 429]));
    expect(statuses[0]).not.toBe(statuses[1]);
    expect(statuses.slice(2)).toEqual(statuses.slice(0, 2));
  });

  it("answers a new setting's statuses from its first", async () => {
    emulator.injectFaults({ rate: 1, statuses: [500] });
    if (emulator.faultsInjected % 2 === 0) await rawS3(); // an odd number of faults so far
    emulator.injectFaults({ rate: 1, statuses: [503, 429] });

    const statuses = await sequentially(4, async () => (await rawS3()).status);

    expect(statuses).toEqual([503, 429, 503, 429]);
  });

  it("fails a request before it touches any state", async () => {
    emulator.injectFaults({ rate: 1 });
    const send = await rawSqs("SendMessage", { QueueUrl: queueUrl, MessageBody: "lost" });
    const put = await fetch(`${emulator.endpoint}/${bucket}/lost`, { method: "PUT", body: "lost" });
    emulator.injectFaults(undefined);

    expect([500, 503]).toContain(send.status);
    expect([500, 503]).toContain(put.status);
    expect(await drain()).toEqual([]);
    await expect(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "lost" }))).rejects.toMatchObject({
      name: "NotFound",
    });
  });

  it("lets SDK clients through by their retries: every call succeeds", async () => {
    const before = emulator.faultsInjected;
    emulator.injectFaults({ rate: 0.5 });

    for (let i = 0; i < 6; i++) {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `retried/${i}`, Body: `value ${i}` }));
    }
    const values: (string | undefined)[] = [];
    for (let i = 0; i < 6; i++) {
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `retried/${i}` }));
      values.push(await object.Body?.transformToString());
    }
    for (let i = 0; i < 6; i++) {
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: `message ${i}` }));
    }
    const received = await drain();

    expect(values).toEqual(Array.from({ length: 6 }, (_, i) => `value ${i}`));
    expect(received.map((m) => m.body).sort()).toEqual(Array.from({ length: 6 }, (_, i) => `message ${i}`));
    expect(emulator.faultsInjected - before).toBeGreaterThanOrEqual(6);
  });

  it("throttles raw requests as SQS and S3 do: RequestThrottled (400) and SlowDown (503), before any state changes", async () => {
    emulator.injectFaults({ throttle: 1 });
    const send = await rawSqs("SendMessage", { QueueUrl: queueUrl, MessageBody: "throttled" });
    const put = await fetch(`${emulator.endpoint}/${bucket}/throttled`, { method: "PUT", body: "throttled" });
    emulator.injectFaults(undefined);

    expect(send.status).toBe(400);
    expect(JSON.parse(await send.text())).toEqual({
      __type: "RequestThrottled",
      message: "Rate exceeded (injected)",
    });
    expect(put.status).toBe(503);
    expect(await put.text()).toContain("<Code>SlowDown</Code>");
    expect(await drain()).toEqual([]);
    await expect(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "throttled" }))).rejects.toMatchObject({
      name: "NotFound",
    });
  });

  it("lets SDK clients through throttling by their retries", async () => {
    const before = emulator.faultsInjected;
    emulator.injectFaults({ throttle: 0.5 });

    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "slowed", Body: "slowed" }));
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "slowed" }));
    emulator.injectFaults(undefined);

    expect(emulator.faultsInjected - before).toBeGreaterThanOrEqual(1);
    expect((await drain()).map((m) => m.body)).toEqual(["slowed"]);
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "slowed" }));
    expect(await object.Body?.transformToString()).toBe("slowed");
  });

  it("loses answers after serving the request: a 500, then a dropped connection, and the request took effect", async () => {
    const before = emulator.faultsInjected;
    emulator.injectFaults({ loseResponses: 1 });
    const first = await rawSqs("SendMessage", { QueueUrl: queueUrl, MessageBody: "served, answer lost" });
    const second = await fetch(`${emulator.endpoint}/${bucket}/lost-answer`, {
      method: "PUT",
      body: "kept",
    }).then(
      (response) => response.status,
      (error: Error) => error.name,
    );
    emulator.injectFaults(undefined);

    expect(first.status).toBe(500);
    expect(JSON.parse(await first.text())).toMatchObject({ __type: "InternalError" });
    expect(second).toBe("TypeError"); // fetch failed: the connection closed without an answer
    expect(emulator.faultsInjected - before).toBe(2);
    expect((await drain()).map((m) => m.body)).toEqual(["served, answer lost"]);
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "lost-answer" }));
    expect(await object.Body?.transformToString()).toBe("kept");
  });

  it("applies faults only to the actions named", async () => {
    emulator.injectFaults({ rate: 1, actions: ["SendMessage"] });

    const list = await rawSqs("ListQueues", {});
    const get = await rawS3();
    const send = await rawSqs("SendMessage", { QueueUrl: queueUrl, MessageBody: "refused" });
    emulator.injectFaults({ rate: 1, actions: ["S3:PUT"] });
    const put = await fetch(`${emulator.endpoint}/${bucket}/only-puts`, { method: "PUT", body: "x" });
    const listed = await rawS3();

    expect([list.status, get.status]).toEqual([200, 200]);
    expect([500, 503]).toContain(send.status);
    expect([500, 503]).toContain(put.status);
    expect(listed.status).toBe(200);
  });

  it("enqueues each SQS send twice with duplicateMessages, as at-least-once delivery allows", async () => {
    const before = emulator.faultsInjected;
    emulator.injectFaults({ duplicateMessages: true });

    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "once" }));
    const single = await drain();
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: [
          { Id: "a", MessageBody: "first" },
          { Id: "b", MessageBody: "second" },
        ],
      }),
    );
    const batch = await drain();

    expect(single.map((m) => m.body)).toEqual(["once", "once"]);
    expect(new Set(single.map((m) => m.id)).size).toBe(2); // two messages, not one delivered twice
    expect(batch.map((m) => m.body).sort()).toEqual(["first", "first", "second", "second"]);
    expect(emulator.faultsInjected).toBe(before); // no rate: nothing failed
  });

  it("holds back the sends delaySends picks, so that a later send overtakes them", async () => {
    emulator.injectFaults({ delaySends: { when: (body) => body.startsWith("slow"), ms: 300 } });

    const slow = sqs.send(
      new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: [{ Id: "a", MessageBody: "slow one" }] }),
    );
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "fast one" }));
    const before = await drain();
    await slow;

    expect(before.map((m) => m.body)).toEqual(["fast one"]);
    expect((await drain()).map((m) => m.body)).toEqual(["slow one"]);
  });

  it("stops failing and duplicating once given undefined", async () => {
    emulator.injectFaults({ rate: 0.5, duplicateMessages: true });
    await sequentially(2, rawS3); // one of them failed
    emulator.injectFaults(undefined);
    const before = emulator.faultsInjected;

    const statuses = await sequentially(6, async () => (await rawS3()).status);
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "only once" }));

    expect(statuses).toEqual([200, 200, 200, 200, 200, 200]);
    expect(emulator.faultsInjected).toBe(before);
    expect((await drain()).map((m) => m.body)).toEqual(["only once"]);
  });

  it("refuses a rate outside 0 to 1 and keeps the setting it had", async () => {
    emulator.injectFaults({ rate: 1 });

    expect(() => emulator.injectFaults({ rate: 1.5 })).toThrow(
      "Expected `rate` to be a number from 0 to 1, got `1.5`",
    );
    expect(() => emulator.injectFaults({ rate: Number.NaN })).toThrow(RangeError);
    expect(() => emulator.injectFaults({ rate: -0.1 })).toThrow(RangeError);
    expect(() => emulator.injectFaults({ throttle: 2 })).toThrow(
      "Expected `throttle` to be a number from 0 to 1, got `2`",
    );
    expect(() => emulator.injectFaults({ loseResponses: -1 })).toThrow(
      "Expected `loseResponses` to be a number from 0 to 1, got `-1`",
    );

    expect([500, 503]).toContain((await rawS3()).status);
  });
});
