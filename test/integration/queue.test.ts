import { randomUUID } from "node:crypto";
import { SendMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { InvalidArgumentError } from "squall";
import { type Emulator, startEmulator } from "squall/aws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QueueSendError, SqsQueue } from "../../sdk/aws/queue.js";

let emulator: Emulator;
let client: SQSClient;

beforeAll(async () => {
  emulator = await startEmulator();
  client = emulator.sqsClient();
});
afterAll(async () => {
  client.destroy();
  await emulator.stop();
});

const name = (what: string) => `${what}-${randomUUID().slice(0, 8)}`;

async function drain(queue: SqsQueue): Promise<string[]> {
  const bodies: string[] = [];
  for (;;) {
    const messages = await queue.receive({ max: 10 });
    if (messages.length === 0) return bodies;
    bodies.push(...messages.map((message) => message.body));
    await queue.delete(messages.map((message) => message.receiptHandle));
  }
}

describe("SqsQueue against the emulator", () => {
  it("sends more than ten bodies in batches and receives each once", async () => {
    const queue = new SqsQueue({ url: await emulator.createQueue(name("tasks")), client });
    const bodies = Array.from({ length: 25 }, (_, i) => JSON.stringify({ n: i }));

    await queue.send(bodies);

    expect((await drain(queue)).sort()).toEqual([...bodies].sort());
  });

  it("sends again a batch whose call failed, and only that one: each body arrives once", async () => {
    let calls = 0;
    // The second SendMessageBatch call fails as a throttled call would after the SDK's retries.
    const flaky = new Proxy(client, {
      get(target, property, receiver) {
        if (property !== "send") return Reflect.get(target, property, receiver);
        return (command: unknown) => {
          calls += 1;
          if (calls === 2) return Promise.reject(Object.assign(new Error("Throttled"), { $fault: "server" }));
          return target.send(command as never);
        };
      },
    });
    const queue = new SqsQueue({ url: await emulator.createQueue(name("flaky")), client: flaky });
    const bodies = Array.from({ length: 25 }, (_, i) => JSON.stringify({ n: i }));

    await queue.send(bodies);

    expect(calls).toBe(4); // three batches, one of them twice
    expect((await drain(queue)).sort()).toEqual([...bodies].sort());
  });

  it("gives up at once on a send that is the sender's fault, naming the queue", async () => {
    const url = `${await emulator.createQueue(name("gone"))}-missing`;
    const queue = new SqsQueue({ url, client });
    const error = await queue.send(["{}"]).catch((thrown: Error) => thrown);
    expect(error).toBeInstanceOf(QueueSendError);
    expect((error as Error).message).toMatch(
      new RegExp(`^Could not send 1 of 1 messages to ${url.replace(/[.?]/g, "\\$&")}: `),
    );
  });

  it("reports which bodies SQS took and which it refused, sending again only the entries that failed", async () => {
    const sent: string[][] = [];
    // SQS refuses "refused" entries as the sender's fault, and fails "flaky" ones once for its own reasons.
    let flakyFailed = false;
    const picky = new Proxy(client, {
      get(target, property, receiver) {
        if (property !== "send") return Reflect.get(target, property, receiver);
        return async (command: SendMessageBatchCommand) => {
          const entries = command.input.Entries ?? [];
          sent.push(entries.map((entry) => entry.MessageBody ?? ""));
          const failed = entries.filter(
            (entry) => entry.MessageBody === "refused" || (entry.MessageBody === "flaky" && !flakyFailed),
          );
          const passed = entries.filter((entry) => !failed.includes(entry));
          flakyFailed ||= failed.some((entry) => entry.MessageBody === "flaky");
          const answer = passed.length
            ? await target.send(new SendMessageBatchCommand({ ...command.input, Entries: passed }))
            : { Successful: [] };
          return {
            Successful: answer.Successful,
            Failed: failed.map((entry) => ({
              Id: entry.Id,
              SenderFault: entry.MessageBody === "refused",
              Code: entry.MessageBody === "refused" ? "InvalidParameterValue" : "InternalError",
              Message: "injected",
            })),
          };
        };
      },
    });
    const url = await emulator.createQueue(name("picky"));
    const queue = new SqsQueue({ url, client: picky });

    const report = await queue.sendEach(["a", "refused", "flaky", "b"]);

    expect(report).toEqual({
      accepted: [0, 2, 3],
      refused: [{ index: 1, reason: "SQS refused it: InvalidParameterValue: injected" }],
    });
    expect(sent).toEqual([["a", "refused", "flaky", "b"], ["flaky"]]);
    expect((await drain(new SqsQueue({ url, client }))).sort()).toEqual(["a", "b", "flaky"]);
  });

  it("refuses every body of a call that is the sender's fault, and takes the other calls' bodies", async () => {
    const url = await emulator.createQueue(name("half"));
    let calls = 0;
    const halfDenied = new Proxy(client, {
      get(target, property, receiver) {
        if (property !== "send") return Reflect.get(target, property, receiver);
        return (command: unknown) => {
          calls += 1;
          if (calls === 1) {
            return Promise.reject(
              Object.assign(new Error("Access to the resource is denied."), { $fault: "client" }),
            );
          }
          return target.send(command as never);
        };
      },
    });
    const queue = new SqsQueue({ url, client: halfDenied });
    const bodies = Array.from({ length: 15 }, (_, i) => `body ${i}`);

    const report = await queue.sendEach(bodies);

    expect(report.accepted).toEqual([10, 11, 12, 13, 14]);
    expect(report.refused).toEqual(
      Array.from({ length: 10 }, (_, index) => ({ index, reason: "Access to the resource is denied." })),
    );
    expect(calls).toBe(2);
    expect((await drain(queue)).sort()).toEqual(bodies.slice(10).sort());
  });

  it("keeps sending a call that SQS throttles, a client error that mends", async () => {
    let calls = 0;
    const throttled = new Proxy(client, {
      get(target, property, receiver) {
        if (property !== "send") return Reflect.get(target, property, receiver);
        return (command: unknown) => {
          calls += 1;
          if (calls === 1) {
            const error = Object.assign(new Error("Rate exceeded"), {
              name: "RequestThrottled",
              $fault: "client",
            });
            return Promise.reject(error);
          }
          return target.send(command as never);
        };
      },
    });
    const queue = new SqsQueue({ url: await emulator.createQueue(name("throttled")), client: throttled });

    expect(await queue.sendEach(["only"])).toEqual({ accepted: [0], refused: [] });
    expect(calls).toBe(2);
    expect(await drain(queue)).toEqual(["only"]);
  });

  it("holds delayed messages back", async () => {
    const queue = new SqsQueue({ url: await emulator.createQueue(name("delayed")), client });
    await queue.send(["later"], { delaySeconds: 1 });

    expect(await queue.receive()).toEqual([]);
    const [message] = await queue.receive({ waitSeconds: 3 });
    expect(message?.body).toBe("later");
  });

  it("redelivers a released message, counting deliveries, and moves it to the dead-letter queue after maxReceiveCount", async () => {
    const deadLetters = new SqsQueue({ url: await emulator.createQueue(name("dlq")), client });
    const queue = new SqsQueue({
      url: await emulator.createQueue(name("redrive"), {
        deadLetterUrl: deadLetters.url,
        maxReceiveCount: 2,
      }),
      client,
    });
    await queue.send(["poison"]);

    const counts: number[] = [];
    for (let i = 0; i < 2; i++) {
      const [message] = await queue.receive({ waitSeconds: 1 });
      if (!message) throw new Error("expected a delivery");
      counts.push(message.receiveCount);
      await queue.release(message.receiptHandle);
    }

    expect(counts).toEqual([1, 2]);
    expect(await queue.receive({ waitSeconds: 1 })).toEqual([]);
    expect((await deadLetters.receive({ waitSeconds: 1 })).map((message) => message.body)).toEqual([
      "poison",
    ]);
  });

  it("rejects a bad delay and a bad queue name clearly", async () => {
    const queue = new SqsQueue({ url: await emulator.createQueue(name("bad")), client });
    await expect(queue.send(["x"], { delaySeconds: 901 })).rejects.toThrow(
      "Expected `delaySeconds` to be an integer from 0 to 900, got `901`",
    );
    await expect(emulator.createQueue("no spaces")).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});
