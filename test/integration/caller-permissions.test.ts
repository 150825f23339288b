// A caller whose credentials may not list the bucket gets 403, not 404, for the next segment of
// its run's record (it is not written yet): S3 will not say whether a key exists to a principal
// that cannot list. The caller stops waiting at once and says which permission is missing.
import { BucketAccessDeniedError, CrashedError, configureLogging, flow, resetLogging } from "squall";
import { LambdaTaskRunner, type LocalEnvironment, startLocalEnvironment } from "squall/aws";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { addToLedger } from "../fixtures/ledger-tasks.js";
import { within } from "../support/async.js";
import { startNoListProxy } from "../support/no-list-proxy.js";

beforeEach(() => configureLogging({ write: () => {} }));
afterEach(() => resetLogging());

let local: LocalEnvironment;
let proxy: Awaited<ReturnType<typeof startNoListProxy>>;

beforeAll(async () => {
  local = await startLocalEnvironment({ workers: 1 });
  proxy = await startNoListProxy(local.address.endpoint);
}, 30_000);
afterAll(async () => {
  await proxy?.stop();
  await local?.stop();
});

describe("a caller without s3:ListBucket", () => {
  it("ends its runs Crashed at once, naming the permission, instead of waiting forever", async () => {
    const runner = new LambdaTaskRunner({ ...local.address, endpoint: proxy.endpoint });
    const oneTask = flow({ taskRunner: runner }, async function oneTask() {
      return addToLedger.submit("/dev/null", "x", 1).result();
    });

    const state = await within(15_000, oneTask.run());

    expect(state).not.toBe("still running");
    if (state === "still running") return;
    expect(state.type).toBe("FAILED"); // its one task run Crashed
    const error = state.type === "FAILED" ? state.error : undefined;
    expect(error).toBeInstanceOf(CrashedError);
    expect(error?.cause).toBeInstanceOf(BucketAccessDeniedError);
    expect(error?.message).toMatch(
      /^Could not read flow run [0-9a-f-]+'s record: S3 refused s3:GetObject on s3:\/\/squall-[0-9a-f]+\/runs\/[0-9a-f-]+\/log\/00000000 \(403 AccessDenied\): these credentials need s3:GetObject on that key, and s3:ListBucket on the bucket \(without it S3 answers 403 instead of 404 for a key not written yet/,
    );
  }, 30_000);
});
