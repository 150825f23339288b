// The thumbnails example (examples/thumbnails/) on the local environment: sharp resizes each image
// of a generated folder on the pool `large`'s worker threads and writes the thumbnails to the
// environment's bucket.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { configureLogging, resetLogging } from "squall";
import { LambdaTaskRunner, type LocalEnvironment, startLocalEnvironment } from "squall/aws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { thumbnails } from "../../examples/thumbnails/thumbnails.js";
import { SAMPLE_IMAGES, writeSampleImages } from "../support/sample-images.js";
import { expectThumbnails } from "../support/thumbnails.js";

let local: LocalEnvironment;
let folder: string;

beforeAll(async () => {
  configureLogging({ write: () => {} });
  [local, folder] = await Promise.all([
    startLocalEnvironment({ workers: 1, pools: { large: { workers: 2 } } }),
    mkdtemp(join(tmpdir(), "squall-thumbnails-")),
  ]);
  await writeSampleImages(folder);
}, 30_000);
afterAll(async () => {
  resetLogging();
  await local?.stop();
  await rm(folder, { recursive: true, force: true });
});

describe("the thumbnails example on the local environment", () => {
  it("writes a thumbnail of each image to the bucket, each made once on the pool `large`", {
    timeout: 60_000,
  }, async () => {
    const result = await thumbnails.withOptions({ taskRunner: new LambdaTaskRunner(local.address) })(folder);

    const flowRunId = /^thumbnails\/([^/]+)\//.exec(result[0]?.key ?? "")?.[1] as string;
    const outcomes = await expectThumbnails(
      local.emulator.s3Client(),
      local.address.bucket,
      flowRunId,
      result,
    );
    const large = local.workers("large");
    expect(large).toHaveLength(2);
    expect(outcomes.map((outcome) => large.includes(outcome.worker as string))).toEqual(
      SAMPLE_IMAGES.map(() => true),
    );
    expect(outcomes.filter((outcome) => local.workers().includes(outcome.worker as string))).toEqual([]);
  });
});
