import { BucketAccessDeniedError, toError } from "../../errors.js";
import { type RecordStore, readSegments, type Segment } from "../record/run-log.js";

/** Failed reads in a row after which the follower says so (it keeps trying). */
const WARN_AFTER_FAILURES = 10;

export interface FollowerOptions {
  /** The first wait between reads that found nothing new; it doubles up to `maxIntervalMs`. @default 10 */
  readonly minIntervalMs?: number;
  /** @default 1000 */
  readonly maxIntervalMs?: number;
}

/** What the follower hands on: each new segment, and the refusal that stops it. */
export interface FollowerListener {
  segment(segment: Segment): void;
  /** The bucket refused to let it read (403): waiting longer would never end. */
  denied(error: BucketAccessDeniedError): void;
}

/**
 * Follows a flow run's record: reads each new segment once, in order, and hands it on. It
 * reads the next segment's key directly (one GET, answered 404 until the coordinator writes
 * it), so a summary that trails the segments never hides an outcome. Reads back off while
 * nothing comes, so a long task costs about one request a second, and speed up again when
 * segments arrive. A read the bucket refuses (403: a missing permission) stops it: it is
 * handed on, never retried forever.
 */
export class RecordFollower {
  readonly #store: RecordStore;
  readonly #flowRunId: string;
  readonly #listener: FollowerListener;
  readonly #min: number;
  readonly #max: number;
  #next = 0;
  #running = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    store: RecordStore,
    flowRunId: string,
    listener: FollowerListener,
    options: FollowerOptions = {},
  ) {
    this.#store = store;
    this.#flowRunId = flowRunId;
    this.#listener = listener;
    this.#min = options.minIntervalMs ?? 10;
    this.#max = options.maxIntervalMs ?? 1000;
  }

  /** Starts following, or, when following, reads again soon (new work was just sent). */
  poke(): void {
    if (!this.#running) {
      this.#running = true;
      this.#loop = this.#run();
      return;
    }
    this.#wake?.();
  }

  /** Stops following; a read under way finishes first. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#wake?.();
    await this.#loop;
  }

  async #run(): Promise<void> {
    let interval = this.#min;
    let failures = 0;
    while (this.#running) {
      let found = 0;
      try {
        const { segments, next } = await readSegments(this.#store, this.#flowRunId, this.#next);
        this.#next = next;
        found = segments.length;
        for (const segment of segments) this.#listener.segment(segment);
        failures = 0;
      } catch (error) {
        if (error instanceof BucketAccessDeniedError) {
          this.#running = false;
          this.#listener.denied(error);
          return;
        }
        // S3 refused for now (throttling, a fault): the same segment is read again next time.
        // Refusing for long is worth saying: a wrong bucket or missing permission never mends.
        failures += 1;
        if (failures === WARN_AFTER_FAILURES) {
          process.stderr.write(
            `squall: cannot read flow run ${this.#flowRunId}'s record in the bucket (${toError(error).message}); still trying. Check the bucket name and the credentials' permissions.\n`,
          );
        }
      }
      if (!this.#running) return;
      interval = found > 0 ? this.#min : Math.min(interval * 2, this.#max);
      await new Promise<void>((resolve) => {
        this.#wake = () => {
          this.#wake = undefined;
          clearTimeout(this.#timer);
          interval = this.#min;
          resolve();
        };
        this.#timer = setTimeout(() => this.#wake?.(), interval);
      });
    }
  }
}
