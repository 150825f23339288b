import { randomBytes } from "node:crypto";
import { SquallError } from "../../errors.js";
import { encodeError } from "../../remote/attempt.js";
import { resultKey } from "../../storage/keys.js";
import type { ResultStore } from "../../storage/result-store.js";
import type { Payload } from "../wire/messages.js";
import { asPayload } from "../wire/payload.js";

/** Characters of a stored error's message its outcome carries inline. */
const INLINE_MESSAGE_CHARS = 4_000;

/**
 * The payload of a run's error. One too large for the outcome goes to the bucket, under the
 * run's prefix at a key per execution (as a large result does), and the outcome carries a copy
 * of the same class with its message cut short, saying where the whole error is, and names its
 * key in `stored`: the caller reads the whole error from there and raises it as thrown, and a
 * reader that cannot (or predates `stored`) still has an error it can catch by class.
 */
export async function errorPayload(
  error: Error,
  run: { readonly flowRunId: string; readonly taskRunId: string; readonly attempt: number },
  store: ResultStore,
  inlineLimit: number,
): Promise<Payload> {
  const bytes = encodeError(error);
  if (bytes.byteLength <= inlineLimit) return asPayload(bytes);
  const key = `${resultKey(run.flowRunId, run.taskRunId)}-${run.attempt}-${randomBytes(4).toString("hex")}`;
  let where: string;
  let stored: { key: string; size: number } | undefined;
  try {
    await store.put(key, bytes);
    where = `the whole error is stored at ${key}`;
    stored = { key, size: bytes.byteLength };
  } catch {
    where = "the bucket could not store the whole error";
  }
  const note = `... (cut short: its error was ${Math.ceil(bytes.byteLength / 1024)} KiB, more than an outcome carries; ${where})`;
  const copy = Object.create(Object.getPrototypeOf(error)) as Error;
  copy.name = error.name;
  copy.message = `${error.message.slice(0, INLINE_MESSAGE_CHARS)}${note}`;
  copy.stack = `${error.name}: ${copy.message}\n${(error.stack ?? "").split("\n").slice(1, 11).join("\n")}`;
  const short = encodeError(copy);
  // Its other fields are large too: the class and fields go, the message stays.
  const inline = asPayload(
    short.byteLength <= inlineLimit ? short : encodeError(new SquallError(`${error.name}: ${copy.message}`)),
  );
  return stored ? { ...inline, stored } : inline;
}
