import type { S3Client } from "@aws-sdk/client-s3";
import { toError } from "../../errors.js";
import { mapLimit } from "../../map-limit.js";
import {
  type FollowOptions,
  isRunId,
  type LineFollower,
  type ListedRun,
  pickRun,
  RecordsUnreadableError,
  type RunBackend,
  RunLookupError,
  type RunRecord,
} from "../../records/backend.js";
import { isFinalState, type RecordLine } from "../../records/record.js";
import { RunFold } from "../../records/run-fold.js";
import type { SquallAddress } from "../address.js";
import type { S3ResultStore } from "../s3-store.js";
import { BucketRecordReader } from "./bucket-record.js";
import { bucketStore, FOLLOW_MS, READS_AT_ONCE, readOn, runIds, summarize } from "./bucket-runs.js";

export interface BucketRunBackendOptions {
  /** Where the runs are, for messages and the dashboard's header: `stack 'Squall' (bucket ...)`. @default `bucket <name>` */
  readonly where?: string;
  /** The command that lists the runs there, for the message about a run that is not. @default "squall runs --stack ..." */
  readonly lister?: string;
}

/** How long a listing serves every reader: listing reads the bucket, and dashboard pages ask each second. */
const LIST_MS = 3_000;

/**
 * The flow runs in a bucket that a deployed stack or the kept local environment writes
 * (`runs/<id>/summary` and `runs/<id>/log/<n>`). A run's record there is its segments of outcomes
 * and its summary, read as the local record's lines (bucket-record.ts); a position is a count of
 * lines. Listing costs a LIST and two GETs per run not yet final; final runs' summaries are kept.
 * A bucket that refuses to be read is a `RecordsUnreadableError` saying what to check.
 *
 * @example
 * const backend = new BucketRunBackend(await addressFromStack("Squall"), { where: "stack 'Squall'" });
 * for (const run of await backend.list()) console.log(run.name, run.state);
 */
export class BucketRunBackend implements RunBackend {
  readonly where: string;
  readonly #bucket: string;
  readonly #lister: string;
  readonly #s3: S3Client;
  readonly #store: S3ResultStore;
  readonly #finals = new Map<string, ListedRun>();
  #listing: { at: number; runs: Promise<ListedRun[]> } | undefined;

  constructor(address: SquallAddress, options: BucketRunBackendOptions = {}) {
    this.where = options.where ?? `bucket ${address.bucket}`;
    this.#lister = options.lister ?? "squall runs --stack ...";
    this.#bucket = address.bucket;
    ({ s3: this.#s3, store: this.#store } = bucketStore(address));
  }

  /** Every run, newest first; one listing serves every caller for a few seconds. */
  list(): Promise<ListedRun[]> {
    if (!this.#listing || Date.now() - this.#listing.at > LIST_MS) {
      const runs = this.#reading(async () => {
        const ids = await this.#ids();
        const summaries = await mapLimit(ids, READS_AT_ONCE, (id) => this.#summaryOf(id));
        return summaries.sort((a, b) => b.startedAt - a.startedAt || a.id.localeCompare(b.id));
      });
      this.#listing = { at: Date.now(), runs };
      runs.catch(() => {
        this.#listing = undefined;
      });
    }
    return this.#listing.runs;
  }

  resolve(run: string): Promise<string> {
    return this.#reading(async () =>
      pickRun(run, await this.#ids(), () => this.list(), { where: `in ${this.where}`, lister: this.#lister }),
    );
  }

  /** Whether it is final, without reading every segment: its summary and first segment. */
  summary(id: string): Promise<ListedRun | undefined> {
    return this.#reading(async () => {
      if (!isRunId(id)) return undefined;
      if (this.#finals.has(id)) return this.#finals.get(id);
      return (await this.#ids()).includes(id) ? this.#summaryOf(id) : undefined;
    });
  }

  read(id: string): Promise<RunRecord | undefined> {
    return this.#reading(async () => {
      if (!isRunId(id)) return undefined;
      const { lines } = await readOn(this.#store, id, new BucketRecordReader(id), 0);
      // No line yet: a run just started, or none of that id (nothing under runs/<id>/).
      if (lines.length === 0 && !(await this.#ids()).includes(id)) return undefined;
      const fold = new RunFold(id);
      for (const line of lines) fold.add(line);
      return { summary: { ...fold.summary(), final: fold.final }, events: lines, offset: lines.length };
    });
  }

  /** Reads on every FOLLOW_MS until the run is final or the follower is stopped; a failed read is tried again then. */
  follow(
    id: string,
    from: number,
    onLine: (line: RecordLine, next: number) => void,
    options: FollowOptions = {},
  ): LineFollower {
    const reader = new BucketRecordReader(id);
    let position = 0;
    let next = 0;
    let failures = 0;
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    const readOnce = async (): Promise<boolean> => {
      const read = await readOn(this.#store, id, reader, next);
      next = read.next;
      for (const line of read.lines) {
        position += 1;
        if (position > from && !stopped) onLine(line, position);
      }
      return read.final;
    };
    const failed = (error: unknown): boolean => {
      failures += 1;
      if (!stopped) options.onError?.(toError(error), failures);
      return false;
    };
    const goOn = (final: boolean) => {
      if (final || stopped) return;
      timer = setTimeout(() => readOnce().then(succeeded, failed).then(goOn), FOLLOW_MS);
      if (!options.keepAlive) timer.unref();
    };
    const succeeded = (final: boolean): boolean => {
      failures = 0;
      return final;
    };
    const first = readOnce().then(succeeded, failed);
    first.then(goOn);
    return {
      caughtUp: first.then(() => {}),
      stop() {
        stopped = true;
        clearTimeout(timer);
      },
    };
  }

  async #summaryOf(id: string): Promise<ListedRun> {
    const kept = this.#finals.get(id);
    if (kept) return kept;
    const summary = await summarize(this.#store, id);
    const listed = { ...summary, final: isFinalState(summary.state) };
    if (listed.final) this.#finals.set(id, listed);
    return listed;
  }

  #ids(): Promise<string[]> {
    return runIds(this.#s3, this.#bucket);
  }

  /** A bucket that refuses (no such bucket, no permission) is one error saying so and what to check. */
  async #reading<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof RunLookupError || error instanceof RecordsUnreadableError) throw error;
      throw new RecordsUnreadableError(
        `Could not read the flow runs in ${this.where}: ${toError(error).message}. Check that the credentials may list and read the bucket (s3:ListBucket, s3:GetObject).`,
        { cause: error },
      );
    }
  }
}
