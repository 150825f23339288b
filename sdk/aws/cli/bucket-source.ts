import { setTimeout as wait } from "node:timers/promises";
import type { RecordLine } from "../../cli/record.js";
import { RunFold, type RunSummary } from "../../cli/run-fold.js";
import { asUsage, type RunSource } from "../../cli/run-source.js";
import { pickRun } from "../../cli/run-store.js";
import { type StackOptions, stackAddress } from "../../cli/runner-option.js";
import { mapLimit } from "../../map-limit.js";
import type { SquallAddress } from "../address.js";
import { BucketRecordReader } from "./bucket-record.js";
import { bucketStore, FOLLOW_MS, READS_AT_ONCE, readOn, runIds, summarize } from "./bucket-runs.js";

/** The flow runs in a deployed stack's bucket (`runs/<id>/summary` and `runs/<id>/log/<n>`). */
export async function bucketSource(options: StackOptions): Promise<RunSource> {
  const address = await stackAddress(options);
  return bucketSourceAt(address, `stack '${options.stack}' (bucket ${address.bucket})`);
}

export function bucketSourceAt(address: SquallAddress, where: string): RunSource {
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
        lister: "squall runs --stack ...",
      }),
    );

  return {
    where,
    list,
    async read(run) {
      const id = await resolve(run);
      const fold = new RunFold(id, { keepLogs: true });
      for (const line of (await readOn(store, id, new BucketRecordReader(id), 0)).lines) fold.add(line);
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
        const read = await readOn(store, id, reader, next);
        next = read.next;
        hand(read.lines);
        if (read.final) break;
        await wait(FOLLOW_MS, undefined, { signal }).catch(() => {}); // an abort ends the wait
      }
      return fold.summary();
    },
  };
}
