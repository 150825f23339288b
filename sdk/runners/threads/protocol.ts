import type { LogRecord } from "../../logging/config.js";
import type { AttemptSpec } from "../../remote/attempt.js";
import type { StoreLocator } from "../../storage/result-store.js";

/** The messages between a thread pool and its worker threads. */

/** One attempt, as a worker thread receives it. */
export interface AttemptMessage extends AttemptSpec {
  readonly id: number;
  /** The serialized arguments; empty when they were offloaded to `argsKey`. */
  readonly args: Uint8Array;
  readonly argsKey: string | undefined;
  /** Where payloads above a size go, and travel by reference. */
  readonly offload: { readonly locator: StoreLocator; readonly aboveBytes: number } | undefined;
}

export interface OutcomeMessage {
  readonly id: number;
  /** `dropped`: the attempt was stopped before its function was called, and never ran. */
  readonly status: "completed" | "failed" | "dropped";
  /** The serialized result, or the serialized error; empty when the result was offloaded. */
  readonly bytes: Uint8Array;
  /** Where an offloaded result sits, under the run's result key. */
  readonly stored: { readonly key: string; readonly size: number } | undefined;
  /** The serializer that encoded `bytes` (an error found before the task's own was known uses the default). */
  readonly serializer: string;
  /** When the attempt started and ended, milliseconds since the epoch. */
  readonly startedAt: number;
  readonly endedAt: number;
}

export type ToWorker =
  | { readonly type: "attempts"; readonly attempts: readonly AttemptMessage[] }
  /**
   * Attempts whose run was cancelled or timed out: one whose function was not called yet never
   * is; a running one sees its run's `AbortSignal` aborted.
   */
  | { readonly type: "stop"; readonly ids: readonly number[]; readonly reason: string };

export type FromWorker =
  /** The thread has loaded and takes attempts. */
  | { readonly type: "ready" }
  | { readonly type: "outcomes"; readonly outcomes: readonly OutcomeMessage[] }
  /** The attempt's function is being called now: sent before the call, so a call that never returns is known. */
  | { readonly type: "started"; readonly id: number }
  | { readonly type: "log"; readonly record: LogRecord }
  | {
      readonly type: "print";
      readonly stream: "stdout" | "stderr";
      readonly text: string;
      /** The attempt whose run printed it, if any. */
      readonly id: number | undefined;
    };

export interface WorkerSetup {
  /** The worker's entry module (this SDK's own thread worker). */
  readonly entry: string;
  /** tsx's registration API, when the SDK runs from TypeScript source without tsx loaded. */
  readonly tsx: string | undefined;
  readonly logThreshold: number;
}
