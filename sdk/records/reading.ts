// What `squall show` and `squall logs` read through any backend: a whole run folded, and a run's
// lines handed over as it goes on until it is final.
import { toError } from "../errors.js";
import { type RunBackend, RunLookupError } from "./backend.js";
import type { RecordLine } from "./record.js";
import { type RunDetail, RunFold, type RunSummary } from "./run-fold.js";

/**
 * A flow run with its subflows, task runs and output, found by its id, a prefix of its id, or
 * its name; throws `RunLookupError` when none or several answer.
 *
 * @example
 * const { flowRun, tasks, logs } = await readDetail(new LocalRunBackend(".squall"), "witty-otter");
 */
export async function readDetail(backend: RunBackend, run: string): Promise<RunDetail> {
  const id = await backend.resolve(run);
  const record = await backend.read(id);
  if (!record) throw new RunLookupError(`Flow run \`${id}\` is no longer in ${backend.where}.`);
  const fold = new RunFold(id, { keepLogs: true });
  for (const line of record.events) fold.add(line);
  return fold.detail();
}

export interface FollowRunOptions {
  /** How long the record must stay unchanged after the run is final before following ends. @default 500 */
  readonly settleMs?: number;
  /** Reads in a row that may fail before following gives up with the last one's error. @default 5 */
  readonly attempts?: number;
}

/**
 * Hands over every line of a flow run's record, those written so far and then each new one,
 * until the run is final and its record has stopped growing, or `signal` aborts. Resolves with
 * the run's summary as of the last line; rejects when reads keep failing.
 *
 * @example
 * await followRun(backend, "witty-otter", (line) => {
 *   if (line.kind === "log") console.log(line.message);
 * });
 */
export async function followRun(
  backend: RunBackend,
  run: string,
  onLine: (line: RecordLine) => void,
  signal?: AbortSignal,
  options: FollowRunOptions = {},
): Promise<RunSummary> {
  const settleMs = options.settleMs ?? 500;
  const attempts = options.attempts ?? 5;
  const id = await backend.resolve(run);
  const fold = new RunFold(id);
  return new Promise<RunSummary>((resolve, reject) => {
    let settling: NodeJS.Timeout | undefined;
    const finish = (error?: Error) => {
      clearTimeout(settling);
      follower.stop();
      signal?.removeEventListener("abort", abort);
      if (error) reject(error);
      else resolve(fold.summary());
    };
    const abort = () => finish();
    // Lines written just after the final state (its last output) still come: following ends
    // once the record has been still for a while.
    const settleSoon = () => {
      clearTimeout(settling);
      if (fold.final) settling = setTimeout(finish, settleMs);
    };
    const follower = backend.follow(
      id,
      0,
      (line) => {
        fold.add(line);
        onLine(line);
        settleSoon();
      },
      {
        keepAlive: true,
        onError: (error, inARow) => {
          if (inARow >= attempts) finish(toError(error));
        },
      },
    );
    if (signal?.aborted) finish();
    else signal?.addEventListener("abort", abort, { once: true });
    follower.caughtUp.then(settleSoon, () => {});
  });
}
