// `squall cancel <run>`: asks a flow run in a bucket (a deployed stack's, or the kept local
// environment's) to cancel, then follows it until it is final. The run's flow-runner reads the
// request (`runs/<id>/cancel`) and cancels the run; nothing else can reach a run in another
// process, so a run of the local record is not cancelled from here.
import type { RunBackend } from "../records/backend.js";
import { followRun } from "../records/reading.js";
import type { RunSummary } from "../records/run-fold.js";
import { UsageError } from "./usage-error.js";

/** Type-only: squall/aws loads when the request is written. */
type SquallAddress = import("../aws/address.js").SquallAddress;

export interface CancelOptions {
  /** Follow the run until it is final (`--no-wait` turns it off). @default true */
  readonly wait?: boolean;
  /** How `--stack`/`--env` were given, for the lines that say how to follow the run. */
  readonly flags: string;
}

/**
 * Cancels the flow run `run` names (its id, a prefix of it, or its name) in the bucket at
 * `address`, which `backend` reads. Exit code: 0 when it ends Cancelled (or was already final,
 * or `--no-wait`), 1 when it ends otherwise; a `UsageError` (exit 2) for a run of the local
 * record (no `address`).
 */
export async function cancelCommand(
  backend: RunBackend,
  address: SquallAddress | undefined,
  run: string,
  options: CancelOptions,
): Promise<number> {
  const id = await backend.resolve(run);
  if (address === undefined) {
    throw new UsageError(
      `Flow run ${id} is in the local record (${backend.where}): its flow runs in the process that started it, and only Ctrl-C there cancels it. squall cancel cancels runs in a bucket: a deployed stack's (--stack <name>) or the kept local environment's (--env).`,
    );
  }
  const before = await backend.summary(id);
  if (before?.final) {
    say(`squall: flow run ${named(before)} is already ${before.state}: nothing to cancel.`);
    return 0;
  }
  const { cancelRequestKey, requestCancel } = await import("../aws/records/cancel-request.js");
  await requestCancel(address, id);
  const who = before ? named(before) : id;
  say(`squall: asked flow run ${who} to cancel (${cancelRequestKey(id)})`);
  if (options.wait === false) {
    say(
      `squall: it cancels once its flow-runner reads the request; follow it with  squall logs --follow ${id} ${options.flags}`,
    );
    return 0;
  }
  say("squall: waiting for it to end (Ctrl-C stops waiting; the request stands)…");
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once("SIGINT", stop);
  let after: RunSummary;
  try {
    after = await followRun(backend, id, () => {}, controller.signal);
  } finally {
    process.off("SIGINT", stop);
  }
  if (controller.signal.aborted) {
    say(`squall: stopped waiting; flow run ${who} is ${after.state}. The request stands.`);
    return 1;
  }
  say(`squall: flow run ${named(after)} ended ${after.state}`);
  return after.state === "Cancelled" ? 0 : 1;
}

function named(run: RunSummary): string {
  return run.name ? `'${run.name}' (${run.id})` : run.id;
}

function say(line: string): void {
  process.stderr.write(`${line}\n`);
}
