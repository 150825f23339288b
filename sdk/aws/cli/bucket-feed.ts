import type { DashboardRunSummary, LineFollower, RunFeed, RunRecord } from "../../cli/dashboard/feed.js";
import { isRunId } from "../../cli/dashboard/feed.js";
import { isFinalState, type RecordLine } from "../../cli/record.js";
import { RunFold } from "../../cli/run-fold.js";
import { type StackOptions, stackAddress } from "../../cli/runner-option.js";
import { mapLimit } from "../../map-limit.js";
import type { SquallAddress } from "../address.js";
import { BucketRecordReader } from "./bucket-record.js";
import { bucketStore, FOLLOW_MS, READS_AT_ONCE, readOn, runIds, summarize } from "./bucket-runs.js";

/** The flow runs in a deployed stack's bucket, for `squall dashboard --stack <name>`. */
export async function bucketFeed(options: StackOptions): Promise<RunFeed> {
  const address = await stackAddress(options);
  return bucketFeedAt(address, `stack ${options.stack} (bucket ${address.bucket})`);
}

/** How long a listing serves every open page: listing reads the bucket, and pages ask each second. */
const LIST_MS = 3_000;
/**
 * A dashboard feed over a stack's bucket. A run's record there is its segments of outcomes and
 * its summary, read as the local record's lines (bucket-record.ts); a position is a count of
 * lines. Listing costs a LIST and two GETs per run not yet final; final runs' summaries are kept.
 */
export function bucketFeedAt(address: SquallAddress, where: string): RunFeed {
  const { s3, store } = bucketStore(address);
  const finals = new Map<string, DashboardRunSummary>();
  let listing: { at: number; runs: Promise<DashboardRunSummary[]> } | undefined;

  const summaryOf = async (id: string): Promise<DashboardRunSummary> => {
    const kept = finals.get(id);
    if (kept) return kept;
    const summary = await summarize(store, id);
    const listed = { ...summary, final: isFinalState(summary.state) };
    if (listed.final) finals.set(id, listed);
    return listed;
  };

  const list = async (): Promise<DashboardRunSummary[]> => {
    const ids = await runIds(s3, address.bucket);
    const summaries = await mapLimit(ids, READS_AT_ONCE, summaryOf);
    return summaries.sort((a, b) => b.startedAt - a.startedAt || a.id.localeCompare(b.id));
  };

  const read = async (id: string): Promise<RunRecord | undefined> => {
    if (!isRunId(id)) return undefined;
    const { lines } = await readOn(store, id, new BucketRecordReader(id), 0);
    // No line yet: a run just started, or none of that id (nothing under runs/<id>/).
    if (lines.length === 0 && !(await runIds(s3, address.bucket)).includes(id)) return undefined;
    const fold = new RunFold(id);
    for (const line of lines) fold.add(line);
    return { summary: { ...fold.summary(), final: fold.final }, events: lines, offset: lines.length };
  };

  return {
    where,
    read,
    list() {
      if (!listing || Date.now() - listing.at > LIST_MS) {
        const runs = list();
        listing = { at: Date.now(), runs };
        runs.catch(() => {
          listing = undefined;
        });
      }
      return listing.runs;
    },
    async summary(id) {
      // Whether it is final, without reading every segment: its summary and first segment.
      if (!isRunId(id)) return undefined;
      if (finals.has(id)) return finals.get(id);
      return (await runIds(s3, address.bucket)).includes(id) ? summaryOf(id) : undefined;
    },
    follow(id, from, onLine): LineFollower {
      const reader = new BucketRecordReader(id);
      let position = 0;
      let next = 0;
      let stopped = false;
      let timer: NodeJS.Timeout | undefined;
      const hand = (lines: RecordLine[]) => {
        for (const line of lines) {
          position += 1;
          if (position > from && !stopped) onLine(JSON.stringify(line), position);
        }
      };
      const readOnce = async (): Promise<boolean> => {
        const read = await readOn(store, id, reader, next);
        next = read.next;
        hand(read.lines);
        return read.final;
      };
      // Reads on every FOLLOW_MS until the run is final or the follower is stopped; a failed
      // read is tried again then.
      const goOn = (final: boolean) => {
        if (final || stopped) return;
        timer = setTimeout(() => readOnce().then(goOn, () => goOn(false)), FOLLOW_MS);
      };
      const caughtUp = readOnce();
      caughtUp.then(goOn, () => goOn(false));
      return {
        caughtUp: caughtUp.then(() => {}),
        stop() {
          stopped = true;
          clearTimeout(timer);
        },
      };
    },
  };
}
