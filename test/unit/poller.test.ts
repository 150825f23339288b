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
});
