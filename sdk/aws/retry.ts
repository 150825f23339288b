import { InvalidArgumentError } from "../errors.js";

/** What the AWS SDK tells a retry strategy of a failed attempt (the part read here). */
interface RetryErrorInfo {
  readonly errorType: "TRANSIENT" | "THROTTLING" | "SERVER_ERROR" | "CLIENT_ERROR";
}

/** A retry token as the SDK's retry middleware reads it. */
class AttemptToken {
  readonly #count: number;
  readonly #delay: number;

  constructor(count: number, delay: number) {
    this.#count = count;
    this.#delay = delay;
  }

  getRetryCount(): number {
    return this.#count;
  }

  getRetryDelay(): number {
    return this.#delay;
  }
}

export interface InvocationRetriesOptions {
  /** Attempts per call, the first included. @default 8 */
  readonly maxAttempts?: number;
  /** No retry starts later than this before the invocation's end. @default 500 */
  readonly marginMs?: number;
}

/** The first wait, doubled at each retry: the SDK's own bases for internal errors and for throttling. */
const BASE_DELAY_MS = 50;
const THROTTLING_BASE_DELAY_MS = 1_000;
/** The longest wait between attempts. */
const MAX_DELAY_MS = 5_000;

/**
 * How a function's S3 and SQS clients retry (the SDK's `retryStrategy`): internal errors and
 * throttling up to `maxAttempts` times per call, with exponential backoff and full jitter, as
 * the SDK's standard mode does, but bounded by the invocation's remaining time rather than by a
 * retry quota. The SDK's quota (500 tokens per client, 14 taken by a retry and given back if it
 * succeeds, one added by each call that succeeds at once) runs dry within a few hundred calls once
 * about a fifth of requests fail, and from then on the client retries nothing. That sheds no load
 * from a function: a call that gives up fails its message, which comes back after its visibility
 * timeout and is handled again, every request of it repeated. So a function retries while its
 * invocation has time, and a message fails only when AWS keeps failing for that long.
 *
 * Lambda runs one invocation at a time in an execution environment: the handler tells this
 * strategy when each ends (`invocationEnds`), before it makes any call.
 *
 * @example
 * const retries = new InvocationRetries();
 * const { s3, sqs } = clientsFor(address, { retryStrategy: retries });
 * export const handler = (event: SqsEvent, context: Context) => {
 *   retries.invocationEnds(Date.now() + context.getRemainingTimeInMillis());
 *   return worker.handle(event, context);
 * };
 */
export class InvocationRetries {
  readonly #maxAttempts: number;
  readonly #marginMs: number;
  #ends: number | undefined;

  constructor(options: InvocationRetriesOptions = {}) {
    const { maxAttempts = 8, marginMs = 500 } = options;
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
      throw new InvalidArgumentError(
        `Expected \`maxAttempts\` to be an integer >= 1, got \`${String(maxAttempts)}\``,
      );
    }
    if (!Number.isFinite(marginMs) || marginMs < 0) {
      throw new InvalidArgumentError(
        `Expected \`marginMs\` to be a number >= 0, got \`${String(marginMs)}\``,
      );
    }
    this.#maxAttempts = maxAttempts;
    this.#marginMs = marginMs;
  }

  /** When the invocation under way ends (epoch milliseconds); `undefined`: attempts alone bound retries. */
  invocationEnds(at: number | undefined): void {
    this.#ends = at;
  }

  async acquireInitialRetryToken(_scope: string): Promise<AttemptToken> {
    return new AttemptToken(0, 0);
  }

  async refreshRetryTokenForRetry(token: AttemptToken, errorInfo: RetryErrorInfo): Promise<AttemptToken> {
    const { errorType } = errorInfo;
    const retries = token.getRetryCount() + 1;
    if (errorType !== "TRANSIENT" && errorType !== "THROTTLING") throw new Error("Not retryable.");
    if (retries >= this.#maxAttempts) throw new Error("No attempts left.");
    const base = errorType === "THROTTLING" ? THROTTLING_BASE_DELAY_MS : BASE_DELAY_MS;
    const delay = Math.floor(Math.random() * Math.min(base * 2 ** token.getRetryCount(), MAX_DELAY_MS));
    if (this.#ends !== undefined && Date.now() + delay > this.#ends - this.#marginMs) {
      throw new Error("The invocation ends before the next attempt.");
    }
    return new AttemptToken(retries, delay);
  }

  recordSuccess(_token: AttemptToken): void {}
}

/** Tries of a step retried whole within an invocation, the first included. */
const STEP_TRIES = 4;
/** The first wait between tries of a step, doubled each time (full jitter). */
const STEP_DELAY_MS = 200;

/**
 * Runs `step` again when it fails, up to four tries with backoff, while the invocation that ends
 * at `ends` has time for the wait and `marginMs` more; then throws the last error. For a step of
 * several calls that is safe to repeat whole (a record append, whose conditional writes make a
 * repeat find its own segment and add nothing): failing the batch instead would hold its messages
 * back a whole visibility timeout and repeat every request of the batch.
 */
export async function retryWithin<T>(
  ends: number | undefined,
  step: () => Promise<T>,
  marginMs = 1_000,
): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await step();
    } catch (error) {
      const wait = Math.floor(Math.random() * STEP_DELAY_MS * 2 ** (tries - 1));
      const late = ends !== undefined && Date.now() + wait > ends - marginMs;
      if (tries >= STEP_TRIES || late) throw error;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}
