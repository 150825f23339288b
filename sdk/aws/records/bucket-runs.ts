// Reading flow runs from a bucket (`runs/<id>/summary` and `runs/<id>/log/<n>`) as the local
// record's lines: the reads the bucket backend (bucket-backend.ts) is made of.
import { ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import type { RecordLine } from "../../records/record.js";
import { RunFold, type RunSummary } from "../../records/run-fold.js";
import { clientsFor, type SquallAddress } from "../address.js";
import { type RecordStore, readSegments, readSummary, type Segment, segmentKey } from "../record/run-log.js";
import { S3ResultStore } from "../s3-store.js";
import { BucketRecordReader } from "./bucket-record.js";

/** How many of a bucket's runs are read at once when listing them. */
export const READS_AT_ONCE = 8;
/** How often a run still going is read again when following it. */
export const FOLLOW_MS = 500;

/** The stack's bucket, for reading only: its client and its store of run records. */
export function bucketStore(address: SquallAddress): { s3: S3Client; store: S3ResultStore } {
  const { s3, sqs } = clientsFor(address);
  sqs.destroy();
  const store = new S3ResultStore({
    bucket: address.bucket,
    client: s3,
    region: address.region,
    endpoint: address.endpoint,
  });
  return { s3, store };
}

/**
 * The lines a run's record adds from segment `next` on, where to read next time, and whether
 * the run is final (its last lines then included).
 */
export async function readOn(
  store: RecordStore,
  id: string,
  reader: BucketRecordReader,
  next: number,
): Promise<{ lines: RecordLine[]; next: number; final: boolean }> {
  const read = await readSegments(store, id, next);
  const lines = read.segments.flatMap((segment) => reader.segment(segment));
  const summary = await readSummary(store, id);
  if (!summary?.state || !summary.returned) return { lines, next: read.next, final: false };
  // A final summary is written after every segment it counts, some perhaps since the read above.
  const rest = await readSegments(store, id, read.next);
  lines.push(...rest.segments.flatMap((segment) => reader.segment(segment)), ...reader.end(summary));
  return { lines, next: rest.next, final: true };
}

/** A run as listed: its summary, with its name and start from its first segment. */
export async function summarize(store: RecordStore, id: string): Promise<RunSummary> {
  const summary = await readSummary(store, id);
  const first = await store.read(segmentKey(id, 0));
  const reader = new BucketRecordReader(id);
  const fold = new RunFold(id);
  if (first && first !== "unchanged") {
    for (const line of reader.segment(JSON.parse(new TextDecoder().decode(first.bytes)) as Segment)) {
      fold.add(line);
    }
  }
  for (const line of reader.end(summary)) fold.add(line);
  const listed = fold.summary();
  const counts = summary?.counts ?? { completed: 0, failed: 0, crashed: 0, cancelled: 0 };
  const final = counts.completed + counts.failed + counts.crashed + counts.cancelled;
  return {
    ...listed,
    name: reader.flowRunName,
    // A run the sweep ended may not know its flow's name (its caller never said).
    flowName: summary?.returned?.flowName || listed.flowName,
    state: summary?.state ?? "Running",
    counts: { pending: 0, running: Math.max((summary?.returned?.tasks ?? final) - final, 0), ...counts },
  };
}

/** The flow run ids with a folder under `runs/`. */
export async function runIds(s3: S3Client, bucket: string): Promise<string[]> {
  const ids: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: "runs/", Delimiter: "/", ContinuationToken: token }),
    );
    for (const prefix of page.CommonPrefixes ?? []) {
      const id = prefix.Prefix?.slice("runs/".length, -1);
      if (id) ids.push(id);
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  return ids;
}
