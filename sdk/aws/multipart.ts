import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";

/**
 * Values above this many bytes are uploaded in parts: one PutObject must hold its whole body in
 * one request, which S3 caps at 5 GiB and the local emulator at 11 MiB, and which a single failed
 * request sends again in full.
 */
export const MULTIPART_THRESHOLD = 8 * 1024 * 1024;
/** Bytes per part: at least S3's 5 MiB minimum, and under the emulator's 11 MiB request cap. */
export const PART_BYTES = 8 * 1024 * 1024;
/** S3 takes at most this many parts in one upload, each of 5 MiB to 5 GiB (the last may be less). */
export const MAX_PARTS = 10_000;
/** The most one part may hold on S3. */
const MAX_PART_BYTES = 5 * 1024 ** 3;

/**
 * The part size for a value of `size` bytes: {@link PART_BYTES}, so that values up to 78 GiB go
 * in at most 10,000 parts; a larger value takes parts just large enough to fit in 10,000 (whole
 * MiB), which S3 takes up to 5 GiB a part (48.8 TiB a value, past S3's 5 TiB per object). Such
 * parts exceed the local emulator's 11 MiB cap, which holds nothing of that size anyway.
 */
export function partBytesFor(size: number): number {
  const mib = 1024 * 1024;
  const bytes = Math.max(PART_BYTES, Math.ceil(size / MAX_PARTS / mib) * mib);
  if (bytes > MAX_PART_BYTES) {
    throw new RangeError(
      `A value of ${size} bytes cannot be uploaded to S3: it would take parts of more than 5 GiB.`,
    );
  }
  return bytes;
}
/** Parts in flight at once: fast enough, and modest in sockets. */
const PARALLEL_PARTS = 4;

/**
 * Writes `value` to `bucket`/`key` as a multipart upload (CreateMultipartUpload, UploadPart,
 * CompleteMultipartUpload), a few parts at a time; the SDK retries each part on its own. A failed
 * upload is aborted, so that its parts do not linger (and cost) in the bucket. The parts are views
 * of `value`, never copies, so memory stays at the value's own size.
 */
export async function putInParts(
  client: S3Client,
  bucket: string,
  key: string,
  value: Uint8Array,
): Promise<void> {
  const partBytes = partBytesFor(value.byteLength);
  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  if (!UploadId) throw new Error(`S3 started no multipart upload for s3://${bucket}/${key} (no UploadId).`);
  try {
    const count = Math.ceil(value.byteLength / partBytes);
    const etags: string[] = new Array(count);
    let next = 0;
    const uploader = async () => {
      while (next < count) {
        const index = next++;
        const body = value.subarray(index * partBytes, (index + 1) * partBytes);
        const { ETag } = await client.send(
          new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: index + 1, Body: body }),
        );
        etags[index] = ETag ?? "";
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL_PARTS, count) }, uploader));
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId,
        MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
      }),
    );
  } catch (error) {
    await client
      .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId }))
      .catch(() => {}); // the upload's own error is the one to report
    throw error;
  }
}
