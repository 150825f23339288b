import { describe, expect, it } from "vitest";
import { EventSourcePoller } from "../../sdk/aws/local/poller.js";
import type { SqsQueue } from "../../sdk/aws/queue.js";

describe("the local event source mapping", () => {
  it("ends its long poll when stopped, rather than waiting for the poll to come back", async () => {
    let polls = 0;
    // A long poll that would never come back on its own: stop() must end it.
    const queue = {
      receive: ({ signal }: { signal?: AbortSignal }) =>
        new Promise((_, reject) => {
          polls += 1;
          signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
        }),
    } as unknown as SqsQueue;
    const poller = new EventSourcePoller({
      queue,
      handler: async () => undefined,
      eventSourceArn: "arn:test",
    });
    poller.start();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await poller.stop();
    expect(polls).toBe(1); // and no poll after the stop
  });

  it("lets its long poll end on its own with finishPoll, and invokes with what it received", async () => {
    let polls = 0;
    let comeBack = (_messages: unknown[]) => {};
    const message = { messageId: "m1", receiptHandle: "h1", body: "late", receiveCount: 1 };
    const deleted: string[] = [];
    // A long poll that a message reaches only after the stop began: aborted, it would be lost.
    const queue = {
      receive: ({ signal }: { signal?: AbortSignal }) =>
        new Promise((resolve, reject) => {
          polls += 1;
          comeBack = resolve;
          signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
        }),
      delete: async (handles: readonly string[]) => {
        deleted.push(...handles);
      },
    } as unknown as SqsQueue;
    const invoked: string[] = [];
    const poller = new EventSourcePoller({
      queue,
      handler: async (event) => {
        invoked.push(...event.Records.map((record) => record.body));
        return { batchItemFailures: [] };
      },
      eventSourceArn: "arn:test",
    });
    poller.start();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const stopped = poller.stop({ finishPoll: true });
    comeBack([message]);
    await stopped;
    expect(invoked).toEqual(["late"]);
    expect(deleted).toEqual(["h1"]);
    expect(polls).toBe(1);
  });
});

describe("the local event source mapping gathering a batch", () => {
  it("invokes with the messages it received when a receive fails while the batch gathers", async () => {
    const received = [1, 2].map((n) => ({
      messageId: `m${n}`,
      receiptHandle: `h${n}`,
      body: `body ${n}`,
      receiveCount: 1,
    }));
    let receives = 0;
    const deleted: string[] = [];
    const queue = {
      receive: async ({ signal }: { signal?: AbortSignal }) => {
        receives += 1;
        if (receives === 1) return received;
        if (receives === 2) throw new Error("We encountered an internal error. Please try again.");
        // Nothing more: the next long poll lasts until the poller stops.
        return new Promise((_, reject) => {
          signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
        });
      },
      delete: async (handles: readonly string[]) => {
        deleted.push(...handles);
      },
    } as unknown as SqsQueue;
    const invoked: string[][] = [];
    const poller = new EventSourcePoller({
      queue,
      handler: async (event) => {
        invoked.push(event.Records.map((record) => record.body));
        return { batchItemFailures: [] };
      },
      eventSourceArn: "arn:test",
      batchingWindowMs: 1_000,
    });

    poller.start();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await poller.stop();

    // Not dropped to come back after their visibility timeout: handled, then deleted.
    expect(invoked).toEqual([["body 1", "body 2"]]);
    expect(deleted).toEqual(["h1", "h2"]);
  });
});
