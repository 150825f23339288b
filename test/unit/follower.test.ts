import { afterEach, describe, expect, it, vi } from "vitest";
import type { RecordStore } from "../../sdk/aws/record/run-log.js";
import { RecordFollower } from "../../sdk/aws/runner/follower.js";
import { sleep } from "../support/async.js";

afterEach(() => vi.restoreAllMocks());

describe("following a run's record", () => {
  it("says once, and keeps trying, when the bucket keeps refusing its reads", async () => {
    let reads = 0;
    const refusing: RecordStore = {
      read: async () => {
        reads += 1;
        throw new Error("AccessDenied: no s3:GetObject");
      },
      create: async () => true,
      replace: async () => true,
    };
    const written: string[] = [];
    vi.spyOn(process.stderr, "write").mockImplementation((text) => {
      written.push(String(text));
      return true;
    });
    const follower = new RecordFollower(refusing, "run-1", () => {}, { minIntervalMs: 1, maxIntervalMs: 1 });
    follower.poke(); // starts it
    while (reads < 25) await sleep(5);
    await follower.stop();

    expect(written).toEqual([
      "squall: cannot read flow run run-1's record in the bucket (AccessDenied: no s3:GetObject); still trying. Check the bucket name and the credentials' permissions.\n",
    ]);
  });
});
