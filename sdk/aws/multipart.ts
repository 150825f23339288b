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
  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  if (!UploadId) throw new Error(`S3 started no multipart upload for s3://${bucket}/${key} (no UploadId).`);
  try {
    const count = Math.ceil(value.byteLength / PART_BYTES);
    const etags: string[] = new Array(count);
    let next = 0;
    const uploader = async () => {
      while (next < count) {
        const index = next++;
        const body = value.subarray(index * PART_BYTES, (index + 1) * PART_BYTES);
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
