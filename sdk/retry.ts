import { InvalidArgumentError } from "./errors.js";

/** Seconds to wait before a retry: one number, one per retry, or a function of the retry number (1, 2, ...). */
export type RetryDelay = number | readonly number[] | ((retry: number) => number);

/**
 * Delays that double with each retry: `backoffFactor`, then twice that, and so on.
 *
 * @example
 * const flaky = task({ retries: 4, retryDelaySeconds: exponentialBackoff(1) }, function flaky() {});
 * // waits 1, 2, 4, 8 seconds between attempts
 */
export function exponentialBackoff(backoffFactor: number): (retry: number) => number {
  if (typeof backoffFactor !== "number" || !Number.isFinite(backoffFactor) || backoffFactor < 0) {
    throw new InvalidArgumentError(
      `Expected \`backoffFactor\` to be a number >= 0, got \`${String(backoffFactor)}\``,
    );
  }
  return (retry) => backoffFactor * 2 ** (retry - 1);
}

/** Milliseconds before retry number `retry`, jittered by up to ±`jitterFactor` of the delay. */
export function retryDelayMs(delay: RetryDelay, retry: number, jitterFactor: number): number {
  let seconds: number;
  if (typeof delay === "number") seconds = delay;
  else if (typeof delay === "function") seconds = delay(retry);
  else seconds = delay[Math.min(retry, delay.length) - 1] ?? 0;
  // 2^31 - 1 ms is the longest timer Node keeps; a longer one would fire at once.
  if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds < 0 || seconds > 2_147_483) {
    throw new InvalidArgumentError(
      `Expected \`retryDelaySeconds\` to give a number of seconds from 0 to 2147483 for retry ${retry}, got \`${String(seconds)}\``,
    );
  }
  // Spreads retries of many runs that failed together ("thundering herd").
  const jitter = jitterFactor > 0 ? seconds * jitterFactor * (2 * Math.random() - 1) : 0;
  return Math.min(2_147_483_647, Math.max(0, (seconds + jitter) * 1000));
}

/**
 * A retry's delay as its log line says it: `0 s`, `1.14 s` (two decimals at most below 10 s),
 * `12 s` (whole seconds from 10 s on).
 */
export function formatDelaySeconds(seconds: number): string {
  if (seconds >= 10) return `${Math.round(seconds)} s`;
  if (seconds > 0 && seconds < 0.005) return `${Number(seconds.toPrecision(1))} s`;
  return `${Number(seconds.toFixed(2))} s`;
}
