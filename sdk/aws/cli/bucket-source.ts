import { setTimeout as wait } from "node:timers/promises";
import type { RecordLine } from "../../cli/record.js";
import { type RunDetail, RunFold, type RunSummary } from "../../cli/run-fold.js";
import { asUsage, type RunSource } from "../../cli/run-source.js";
import { pickRun } from "../../cli/run-store.js";
import { type StackOptions, stackAddress } from "../../cli/runner-option.js";
import { UsageError } from "../../cli/usage-error.js";
import { toError } from "../../errors.js";
import { mapLimit } from "../../map-limit.js";
import type { SquallAddress } from "../address.js";
import { BucketRecordReader } from "./bucket-record.js";
import { bucketStore, FOLLOW_MS, READS_AT_ONCE, readOn, runIds, summarize } from "./bucket-runs.js";

/** The flow runs in a deployed stack's bucket (`runs/<id>/summary` and `runs/<id>/log/<n>`). */
export async function bucketSource(options: StackOptions): Promise<RunSource> {
  const address = await stackAddress(options);
  return bucketSourceAt(address, `stack '${options.stack}' (bucket ${address.bucket})`);
}

/** Reads in a row that may fail while following before the command gives up. */
const FOLLOW_ATTEMPTS = 5;

/** `lister` is the command that lists the runs there, for the message about a run that is not. */
export function bucketSourceAt(
  address: SquallAddress,
  where: string,
  lister = "squall runs --stack ...",
): RunSource {
  const { s3, store } = bucketStore(address);

  const list = async (): Promise<RunSummary[]> => {
    const ids = await runIds(s3, address.bucket);
    const summaries = await mapLimit(ids, READS_AT_ONCE, (id) => summarize(store, id));
    return summaries.sort((a, b) => b.startedAt - a.startedAt);
  };

  const resolve = async (run: string): Promise<string> =>
    asUsage(
      pickRun(run, await runIds(s3, address.bucket), list, {
        where: `in ${where}`,
        lister,
      }),
    );

  /** A bucket that refuses (no such bucket, no permission) is the command's trouble: one line saying so. */
  const reading = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      if (error instanceof UsageError) throw error;
      throw new UsageError(
        `Could not read the flow runs in ${where}: ${toError(error).message}. Check that the credentials may list and read the bucket (s3:ListBucket, s3:GetObject).`,
        { cause: error },
      );
    }
  };

  return {
    where,
    list: () => reading(list),
    read: (run) => reading(() => read(run)),
    follow: (run, onLine, signal) => reading(() => follow(run, onLine, signal)),
  };

  async function read(run: string): Promise<RunDetail> {
    const id = await resolve(run);
    const fold = new RunFold(id, { keepLogs: true });
    for (const line of (await readOn(store, id, new BucketRecordReader(id), 0)).lines) fold.add(line);
    return fold.detail();
  }

  async function follow(
    run: string,
    onLine: (line: RecordLine) => void,
    signal: AbortSignal,
  ): Promise<RunSummary> {
    const id = await resolve(run);
    const reader = new BucketRecordReader(id);
    const fold = new RunFold(id);
    let next = 0;
    let failures = 0;
    while (!signal.aborted) {
      try {
        const read = await readOn(store, id, reader, next);
        failures = 0;
        next = read.next;
        for (const line of read.lines) {
          fold.add(line);
          onLine(line);
        }
        if (read.final) break;
      } catch (error) {
        // A fault now and then is the bucket's; one that goes on is the command's.
        failures += 1;
        if (failures >= FOLLOW_ATTEMPTS) throw error;
      }
      await wait(FOLLOW_MS, undefined, { signal }).catch(() => {}); // an abort ends the wait
    }
    return fold.summary();
  }
}
