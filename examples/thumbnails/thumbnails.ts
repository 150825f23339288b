// Real work on the fleet: a thumbnail of each image of a folder, made with sharp on the worker pool
// `large` (more memory, and on Lambda more CPU with it) and written to the stack's bucket under
// `thumbnails/<flowRunId>/`. The folder is read where the flow runs (a laptop); each image travels
// as its task's argument, through the bucket when it is large. Deployed by app.ts beside this file.
//
//   npx squall run examples/thumbnails/thumbnails.ts:thumbnails --params '"photos"'      # local environment
//   npx squall run examples/thumbnails/thumbnails.ts:thumbnails --stack SquallThumbnails --params '"photos"'
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import sharp from "sharp";
import { flow, getRunContext, task } from "squall";
import { addressFromEnv, LambdaTaskRunner } from "squall/aws";

/** The square a thumbnail fits in, in pixels; a smaller image keeps its size. */
export const THUMBNAIL_SIZE = 256;

/** The files sharp reads that the flow takes for images. */
const IMAGE_FILE = /\.(png|jpe?g|webp|avif|gif|tiff?)$/i;

export interface Thumbnail {
  /** The image's file name in the folder. */
  readonly image: string;
  /** Where its thumbnail is in the stack's bucket. */
  readonly key: string;
  readonly width: number;
  readonly height: number;
  readonly bytes: number;
}

let bucket: { readonly name: string; readonly client: S3Client } | undefined;

/**
 * The stack's bucket, as the worker running the task knows it: its `SQUALL_*` variables name
 * the bucket (and, in the local environment, the emulator). One client per worker, built on
 * first use, so the caller that only submits builds none.
 */
function stackBucket(): { readonly name: string; readonly client: S3Client } {
  if (bucket) return bucket;
  const address = addressFromEnv();
  if (!address) {
    throw new Error(
      "makeThumbnail runs on a squall worker, whose SQUALL_* variables name the stack's bucket.",
    );
  }
  const { region, endpoint } = address;
  bucket = {
    name: address.bucket,
    client: new S3Client({ region, endpoint, forcePathStyle: endpoint !== undefined }),
  };
  return bucket;
}

/**
 * Resizes one image to fit THUMBNAIL_SIZE (turned upright as its EXIF says), encodes it as WebP
 * and puts it at `key`. Running it twice (SQS delivers at least once) writes the same object again.
 */
export const makeThumbnail = task(
  { pool: "large", retries: 2, timeoutSeconds: 30 },
  async function makeThumbnail(image: string, bytes: Uint8Array, key: string): Promise<Thumbnail> {
    const { data, info } = await sharp(bytes)
      .rotate()
      .resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: "inside", withoutEnlargement: true })
      .webp({ quality: 80 })
      .toBuffer({ resolveWithObject: true });
    const { name, client } = stackBucket();
    await client.send(
      new PutObjectCommand({ Bucket: name, Key: key, Body: data, ContentType: "image/webp" }),
    );
    return { image, key, width: info.width, height: info.height, bytes: data.length };
  },
);

/**
 * A thumbnail of each image in `folder` (by file name, in name order), made on the pool `large`.
 * With no stack given, the runner starts a local environment that has that pool too.
 */
export const thumbnails = flow(
  { taskRunner: new LambdaTaskRunner({ local: { pools: { large: { workers: 2 } } } }) },
  async function thumbnails(folder: string): Promise<Thumbnail[]> {
    const images = (await readdir(folder)).filter((file) => IMAGE_FILE.test(file)).sort();
    const prefix = `thumbnails/${getRunContext().flowRun.id}/`;
    const futures = [];
    for (const image of images) {
      const bytes = await readFile(join(folder, image));
      futures.push(makeThumbnail.submit(image, bytes, `${prefix}${image}.webp`));
    }
    return Promise.all(futures.map((future) => future.result()));
  },
);
