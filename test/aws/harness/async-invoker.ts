// Lambda's asynchronous invocations (InvocationType Event): the event is queued and the function
// invoked from the queue; when the invocation fails (an error, a timeout, a crash) Lambda tries
// again, twice by default (after about one and then two minutes), or as many times as the
// function's AWS::Lambda::EventInvokeConfig says in MaximumRetryAttempts, and drops events older
// than MaximumEventAgeInSeconds.
import { setTimeout as sleep } from "node:timers/promises";
import type { LambdaFunction } from "./lambda-function.js";

export interface AsyncSettings {
  /** @default 2 */
  readonly maximumRetryAttempts: number;
  /** @default 21600 (six hours) */
  readonly maximumEventAgeSeconds: number;
  /** The waits before the first and second retries. @default [60_000, 120_000] */
  readonly retryDelaysMs: readonly number[];
}

export const LAMBDA_ASYNC_DEFAULTS: AsyncSettings = {
  maximumRetryAttempts: 2,
  maximumEventAgeSeconds: 21_600,
  retryDelaysMs: [60_000, 120_000],
};

export class AsyncInvoker {
  readonly #target: LambdaFunction;
  readonly #settings: () => AsyncSettings;
  readonly #running = new Set<Promise<void>>();
  readonly #stopping = new AbortController();

  constructor(target: LambdaFunction, settings: () => AsyncSettings) {
    this.#target = target;
    this.#settings = settings;
  }

  /** Queues the event; Lambda has answered 202 by then. */
  enqueue(event: unknown): void {
    const run = this.#run(event).finally(() => this.#running.delete(run));
    this.#running.add(run);
  }

  /** Events queued or being retried. */
  get pending(): number {
    return this.#running.size;
  }

  /** Resolves once every queued event has succeeded or run out of attempts. */
  async settled(): Promise<void> {
    while (this.#running.size > 0) await Promise.all([...this.#running]);
  }

  /** Drops what is queued or waiting for a retry. */
  stop(): void {
    this.#stopping.abort();
  }

  async #run(event: unknown): Promise<void> {
    const queuedAt = Date.now();
    const settings = this.#settings();
    const signal = this.#stopping.signal;
    for (let attempt = 1; !signal.aborted; attempt++) {
      const outcome = await this.#target.invoke(event, "Event", attempt).catch(() => undefined);
      if (outcome?.ok) return;
      if (attempt > settings.maximumRetryAttempts) return;
      const delay = settings.retryDelaysMs[attempt - 1] ?? settings.retryDelaysMs.at(-1) ?? 0;
      if (Date.now() + delay - queuedAt > settings.maximumEventAgeSeconds * 1000) return;
      await sleep(delay, undefined, { signal }).catch(() => {});
    }
  }
}
