import { CrashedError } from "../../errors.js";
import type { SqsQueue } from "../queue.js";
import { type Outcome, WIRE_VERSION } from "../wire/messages.js";
import { packMessages, SQS_MAX_BYTES } from "../wire/pack.js";
import { errorOutcome } from "../wire/payload.js";
import { SEAL_BYTES, seal } from "../wire/seal.js";
import { sqsSafeJson } from "../wire/sqs-text.js";

/** A task run whose message the task queue finally refused. */
export interface Unsent {
  readonly taskRunId: string;
  readonly taskRunName: string;
  readonly attempt: number;
  readonly reason: string;
}

/** Why a run whose message never reached the task queue crashed, and what to do. */
export function unsentOutcomeMessage(run: Unsent): string {
  return `Task run '${run.taskRunName}' crashed: its message could not be sent to the task queue (${run.reason}). Check that the caller may send to the task queue and that it is reachable, then run the flow again.`;
}

/** The Crashed outcome of a run whose message never reached the task queue. */
export function unsentOutcome(flowRunId: string, run: Unsent): Outcome {
  const error = new CrashedError(unsentOutcomeMessage(run));
  return errorOutcome({ flowRunId, taskRunId: run.taskRunId, attempt: run.attempt }, "crashed", error);
}

/**
 * Reports runs the caller gave up sending as Crashed, in signed outcome messages on the
 * completion queue, as a worker reports a run: the record then holds one outcome for each run
 * sent, the flow run's summary becomes final, and the caller settles these runs from the record
 * like every other (so that the two always agree, even if a message thought lost did arrive and
 * ran: the record's first final outcome is the one both take). Returns the runs whose report was
 * refused too: the caller settles those itself, and the coordinator's sweep marks them Crashed.
 */
export async function reportUnsent(
  completions: SqsQueue,
  key: Uint8Array,
  flowRunId: string,
  runs: readonly Unsent[],
): Promise<{ readonly run: Unsent; readonly reason: string }[]> {
  if (runs.length === 0) return [];
  const head = `{"v":${WIRE_VERSION},"flowRunId":${JSON.stringify(flowRunId)},"outcomes":[`;
  const records = runs.map((run) => sqsSafeJson(JSON.stringify(unsentOutcome(flowRunId, run))));
  // One run per message, so that a refused message names exactly the run it leaves unreported.
  const bodies = packMessages(head, records, "]}", {
    maxRecords: 1,
    maxMessageBytes: SQS_MAX_BYTES - SEAL_BYTES,
  });
  const { refused } = await completions.sendEach(bodies.map((body) => seal(key, "completions", body)));
  return refused.map(({ index, reason }) => ({ run: runs[index] as Unsent, reason }));
}
