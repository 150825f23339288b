import { BucketAccessDeniedError } from "squall";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { RecordStore } from "../../sdk/aws/record/run-log.js";
import { RecordFollower } from "../../sdk/aws/runner/follower.js";
import { sleep } from "../support/async.js";

afterEach(() => vi.restoreAllMocks());

describe("following a run's record", () => {
  it("says once, and keeps trying, when the bucket keeps failing its reads", async () => {
    let reads = 0;
    const refusing: RecordStore = {
      read: async () => {
        reads += 1;
        throw new Error("SlowDown: please reduce your request rate");
      },
      create: async () => true,
      replace: async () => true,
    };
    const written: string[] = [];
    vi.spyOn(process.stderr, "write").mockImplementation((text) => {
      written.push(String(text));
      return true;
    });
    const listener = { segment: () => {}, denied: () => {} };
    const follower = new RecordFollower(refusing, "run-1", listener, { minIntervalMs: 1, maxIntervalMs: 1 });
    follower.poke(); // starts it
    while (reads < 25) await sleep(5);
    await follower.stop();

    expect(written).toEqual([
      "squall: cannot read flow run run-1's record in the bucket (SlowDown: please reduce your request rate); still trying. Check the bucket name and the credentials' permissions.\n",
    ]);
  });

  it("stops at once and hands on a refusal (403): a missing permission never mends", async () => {
    let reads = 0;
    const denied = new BucketAccessDeniedError("S3 refused s3:GetObject");
    const refusing: RecordStore = {
      read: async () => {
        reads += 1;
        throw denied;
      },
      create: async () => true,
      replace: async () => true,
    };
    const handed: unknown[] = [];
    const follower = new RecordFollower(
      refusing,
      "run-1",
      { segment: () => {}, denied: (error) => handed.push(error) },
      { minIntervalMs: 1, maxIntervalMs: 1 },
    );

    follower.poke();
    await sleep(50);
    await follower.stop();

    expect(reads).toBe(1);
    expect(handed).toEqual([denied]);
  });
});
