// What a run of the thumbnails example must leave in a bucket, wherever it ran: a WebP thumbnail of
// each sample image, of the expected size as sharp reads it back, under thumbnails/<flowRunId>/
// and nothing else there; the flow's result naming each; and a final record with exactly one
// outcome per task run, all completed.
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import sharp from "sharp";
import { expect } from "vitest";
import type { Thumbnail } from "../../examples/thumbnails/thumbnails.js";
import { readSegments } from "../../sdk/aws/record/run-log.js";
import { S3ResultStore } from "../../sdk/aws/s3-store.js";
import type { Outcome } from "../../sdk/aws/wire/messages.js";
import { finalSummary } from "./records.js";
import { SAMPLE_IMAGES } from "./sample-images.js";

/** The run's outcomes, once checked; `worker` says which execution environment ran each. */
export async function expectThumbnails(
  s3: S3Client,
  bucket: string,
  flowRunId: string,
  result: readonly Thumbnail[],
): Promise<readonly Outcome[]> {
  const prefix = `thumbnails/${flowRunId}/`;
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "thumbnails/" }));
  const keys = (listed.Contents ?? []).map((object) => object.Key).sort();
  expect(keys).toEqual(SAMPLE_IMAGES.map(({ file }) => `${prefix}${file}.webp`));

  const stored = await Promise.all(
    SAMPLE_IMAGES.map(async ({ file }) => {
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `${prefix}${file}.webp` }));
      const bytes = await (
        object.Body as { transformToByteArray(): Promise<Uint8Array> }
      ).transformToByteArray();
      const { format, width, height } = await sharp(bytes).metadata();
      return { image: file, contentType: object.ContentType, format, width, height, bytes: bytes.length };
    }),
  );
  expect(stored).toEqual(
    SAMPLE_IMAGES.map(({ file, thumbnail }) => ({
      image: file,
      contentType: "image/webp",
      format: "webp",
      ...thumbnail,
      bytes: expect.any(Number),
    })),
  );
  expect(result).toEqual(
    stored.map(({ image, width, height, bytes }) => ({
      image,
      key: `${prefix}${image}.webp`,
      width,
      height,
      bytes,
    })),
  );

  const store = new S3ResultStore({ bucket, client: s3 });
  // The flow returned with its results; its notice reaches the record just after.
  const summary = await finalSummary(store, flowRunId);
  expect(summary?.state).toBe("Completed");
  expect(summary?.counts).toEqual({ completed: SAMPLE_IMAGES.length, failed: 0, crashed: 0, cancelled: 0 });
  const { segments } = await readSegments(store, flowRunId, 0);
  const outcomes = segments.flatMap((segment) => segment.outcomes);
  // One outcome per task run: no retry, and no repeat recorded.
  expect(outcomes.map((outcome) => outcome.status)).toEqual(SAMPLE_IMAGES.map(() => "completed"));
  expect(new Set(outcomes.map((outcome) => outcome.taskRunId)).size).toBe(SAMPLE_IMAGES.length);
  return outcomes;
}
