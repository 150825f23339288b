import type { RecordLine } from "../../cli/record.js";
import { RunFold, type RunSummary } from "../../cli/run-fold.js";
import type { RunSource } from "../../cli/run-source.js";
import { type StackOptions, stackAddress } from "../../cli/runner-option.js";
import { UsageError } from "../../cli/usage-error.js";
import type { SquallAddress } from "../address.js";
import { BucketRecordReader } from "./bucket-record.js";
import { bucketStore, FOLLOW_MS, mapLimit, READS_AT_ONCE, readOn, runIds, summarize } from "./bucket-runs.js";

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
