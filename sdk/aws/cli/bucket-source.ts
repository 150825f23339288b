import { ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import type { RecordLine } from "../../cli/record.js";
import { RunFold, type RunSummary } from "../../cli/run-fold.js";
import type { RunSource } from "../../cli/run-source.js";
import { type StackOptions, stackAddress } from "../../cli/runner-option.js";
import { UsageError } from "../../cli/usage-error.js";
import { clientsFor, type SquallAddress } from "../address.js";
import { type RecordStore, readSegments, readSummary, type Segment, segmentKey } from "../record/run-log.js";
import { S3ResultStore } from "../s3-store.js";
import { BucketRecordReader } from "./bucket-record.js";

/** The flow runs in a deployed stack's bucket (`runs/<id>/summary` and `runs/<id>/log/<n>`). */
export async function bucketSource(options: StackOptions): Promise<RunSource> {
  const address = await stackAddress(options);
  return bucketSourceAt(address, `stack '${options.stack}' (bucket ${address.bucket})`);
}

const READS_AT_ONCE = 8;
const FOLLOW_MS = 500;

export function bucketSourceAt(address: SquallAddress, where: string): RunSource {
  const { s3, sqs } = clientsFor(address);
  sqs.destroy();
  const store = new S3ResultStore({
    bucket: address.bucket,
    client: s3,
    region: address.region,
    endpoint: address.endpoint,
  });

  const list = async (): Promise<RunSummary[]> => {
    const ids = await runIds(s3, address.bucket);
    const summaries = await mapLimit(ids, READS_AT_ONCE, (id) => summarize(store, id));
    return summaries.sort((a, b) => b.startedAt - a.startedAt);
  };

  const resolve = async (run: string): Promise<string> => {
    const ids = await runIds(s3, address.bucket);
    if (ids.includes(run)) return run;
    const byPrefix = ids.filter((id) => id.startsWith(run));
    if (byPrefix.length === 1) return byPrefix[0] as string;
    if (byPrefix.length > 1) {
      throw new UsageError(
        `${byPrefix.length} flow runs in ${where} have ids starting \`${run}\`: give more of the id.`,
      );
    }
    const byName = (await list()).filter((summary) => summary.name === run);
    if (byName.length === 1) return (byName[0] as RunSummary).id;
    throw new UsageError(
      byName.length > 1
        ? `${byName.length} flow runs in ${where} are named '${run}': give the id instead.`
        : `No flow run \`${run}\` in ${where}: \`squall runs --stack ...\` lists them.`,
    );
  };

  return {
    where,
    list,
    async read(run) {
      const id = await resolve(run);
      const reader = new BucketRecordReader(id);
      const fold = new RunFold(id, { keepLogs: true });
      const { segments } = await readSegments(store, id, 0);
      for (const segment of segments) for (const line of reader.segment(segment)) fold.add(line);
      for (const line of reader.end(await readSummary(store, id))) fold.add(line);
      return fold.detail();
    },
    async follow(run, onLine, signal) {
      const id = await resolve(run);
      const reader = new BucketRecordReader(id);
      const fold = new RunFold(id);
      const hand = (lines: RecordLine[]) => {
        for (const line of lines) {
          fold.add(line);
          onLine(line);
        }
      };
      let next = 0;
      while (!signal.aborted) {
        const read = await readSegments(store, id, next);
        next = read.next;
        for (const segment of read.segments) hand(reader.segment(segment));
        const ending = reader.end(await readSummary(store, id));
        if (ending.length > 0) {
          hand(ending);
          break;
        }
        await new Promise<void>((done) => {
          const timer = setTimeout(done, FOLLOW_MS);
          signal.addEventListener("abort", () => {
            clearTimeout(timer);
            done();
          });
        });
      }
      return fold.summary();
    },
  };
}

/** A run as listed: its summary, with its name and start from its first segment. */
async function summarize(store: RecordStore, id: string): Promise<RunSummary> {
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
    flowName: summary?.returned?.flowName ?? listed.flowName,
    state: summary?.state ?? "Running",
    counts: { pending: 0, running: Math.max((summary?.returned?.tasks ?? final) - final, 0), ...counts },
  };
}

/** The flow run ids with a folder under `runs/`. */
async function runIds(s3: S3Client, bucket: string): Promise<string[]> {
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

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const work = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, work));
  return results;
}
