import { encodeError } from "../../remote/attempt.js";
import type { Outcome, Payload } from "./messages.js";

const decoder = new TextDecoder("utf-8", { fatal: true });

/** Serialized bytes as a message carries them: text when they are UTF-8, else base64. */
export function asPayload(bytes: Uint8Array): Payload {
  try {
    return { text: decoder.decode(bytes) };
  } catch {
    return { base64: Buffer.from(bytes).toString("base64") };
  }
}

/** The bytes an inline payload holds; `undefined` for one that is a key in the bucket. */
export function inlineBytes(payload: Payload): Uint8Array | undefined {
  if ("text" in payload) return new TextEncoder().encode(payload.text);
  if ("base64" in payload) return Buffer.from(payload.base64, "base64");
  return undefined;
}

/** An outcome carrying `error` (with the default serializer, which keeps its class and fields). */
export function errorOutcome(
  run: { readonly flowRunId: string; readonly taskRunId: string; readonly attempt: number },
  status: Exclude<Outcome["status"], "completed">,
  error: Error,
): Outcome {
  return {
    flowRunId: run.flowRunId,
    taskRunId: run.taskRunId,
    attempt: run.attempt,
    status,
    serializer: "default",
    payload: asPayload(encodeError(error)),
    endedAt: Date.now(),
    logs: [],
  };
}
