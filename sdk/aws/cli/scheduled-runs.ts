// A schedule's last runs, found in the bucket: the flow-runner writes `runs/<flowRunId>/start`
// (`{ flow, schedule, startedAt }`) for each run it starts, so the runs a schedule started are
// those whose start names it. One LIST per thousand runs, then one GET per run (at most
// `maxReads`), then the summary and first segment of the few runs shown.
import type { S3Client } from "@aws-sdk/client-s3";
import { mapLimit } from "../../map-limit.js";
import { runPrefix } from "../../storage/keys.js";
import type { RecordStore } from "../record/run-log.js";
import { READS_AT_ONCE, runIds, summarize } from "../records/bucket-runs.js";
import type { ScheduleListing } from "../schedules/definition.js";
import type { LastRun } from "../schedules/report.js";

/** What the flow-runner writes at `runs/<flowRunId>/start` when it starts a run. */
export interface RunStart {
  readonly flow: string;
  /** The schedule that started it, if one did. */
  readonly schedule?: string;
  /** Milliseconds since the epoch. */
  readonly startedAt: number;
  /** The flow run's name (`witty-otter`), when the start says it: the record has it only in task runs' log lines. */
  readonly flowRunName?: string;
}

export function startKey(flowRunId: string): string {
  return `${runPrefix(flowRunId)}start`;
}

/** The last runs of each schedule, newest first, and how many runs' starts were left unread. */
export interface ScheduledRuns {
  readonly bySchedule: ReadonlyMap<string, readonly LastRun[]>;
  /** Runs in the bucket beyond `maxReads`, whose starts were not read. */
  readonly unread: number;
}

/**
 * The last `perSchedule` runs of each schedule in the bucket: runs whose start names the schedule
 * and its flow. Reads the starts of at most `maxReads` runs.
 */
export async function scheduledRuns(
  s3: S3Client,
  store: RecordStore,
  bucket: string,
  schedules: readonly ScheduleListing[],
  { perSchedule = 3, maxReads = 1_000 } = {},
): Promise<ScheduledRuns> {
  const flows = new Map(schedules.map((schedule) => [schedule.name, schedule.flow]));
  const ids = await runIds(s3, bucket);
  const read = ids.slice(0, maxReads);
  const starts = await mapLimit(read, READS_AT_ONCE, async (id) => ({
    id,
    start: await readStart(store, id),
  }));
  const found = new Map<string, { id: string; start: RunStart }[]>();
  for (const { id, start } of starts) {
    if (!start?.schedule || flows.get(start.schedule) !== start.flow) continue;
    found.set(start.schedule, [...(found.get(start.schedule) ?? []), { id, start }]);
  }
  const bySchedule = new Map<string, LastRun[]>();
  for (const [name, runs] of found) {
    const last = runs.sort((a, b) => b.start.startedAt - a.start.startedAt).slice(0, perSchedule);
    bySchedule.set(
      name,
      await mapLimit(last, READS_AT_ONCE, async ({ id, start }) => {
        const summary = await summarize(store, id);
        return {
          id,
          name: start.flowRunName || summary.name,
          state: summary.state,
          startedAt: start.startedAt,
        };
      }),
    );
  }
  return { bySchedule, unread: ids.length - read.length };
}

/** A run's start, or `undefined` when it has none (a run not started by the flow-runner) or it is not one. */
async function readStart(store: RecordStore, id: string): Promise<RunStart | undefined> {
  const read = await store.read(startKey(id));
  if (!read || read === "unchanged") return undefined;
  try {
    const start = JSON.parse(new TextDecoder().decode(read.bytes)) as Partial<RunStart>;
    if (typeof start.flow !== "string" || typeof start.startedAt !== "number") return undefined;
    return {
      flow: start.flow,
      startedAt: start.startedAt,
      ...(typeof start.schedule === "string" && { schedule: start.schedule }),
      ...(typeof start.flowRunName === "string" && { flowRunName: start.flowRunName }),
    };
  } catch {
    return undefined;
  }
}
