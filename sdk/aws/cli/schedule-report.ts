// What `squall schedules` reads: a deployed stack's schedules (its `Schedules` output) or the kept
// local environment's (its announcement), when each fires next, and each one's last runs in the
// bucket.

import { SquallError, toError } from "../../errors.js";
import { type SquallAddress, STACK_OUTPUTS } from "../address.js";
import { type Announcement, announcedAddress } from "../local/announcement.js";
import { bucketStore } from "../records/bucket-runs.js";
import { SCHEDULES_OUTPUT, type ScheduleListing } from "../schedules/definition.js";
import { nextFireTimes } from "../schedules/fire-times.js";
import type { ScheduleRow } from "../schedules/report.js";
import { scheduledRuns } from "./scheduled-runs.js";

/** What the command line shows as a usage error (exit 2): a stack or environment that has no schedules to read. */
export class ScheduleReportError extends SquallError {}

/** The schedules of one place, with their next fire times and last runs. */
export interface ScheduleReport {
  /** Where, for messages: the stack or the local environment. */
  readonly where: string;
  readonly rows: readonly ScheduleRow[];
  /** Runs whose starts were not read (beyond the limit), so whose schedule is not known. */
  readonly unread: number;
}

export interface StackWhere {
  readonly stack: string;
  readonly region?: string;
  readonly endpoint?: string;
}

/** A deployed stack's schedules: its outputs (one DescribeStacks) and its bucket. */
export async function stackScheduleReport(where: StackWhere, now = Date.now()): Promise<ScheduleReport> {
  const outputs = await stackOutputs(where);
  const place = `stack '${where.stack}'`;
  const bucket = outputs[STACK_OUTPUTS.bucket];
  if (!bucket) {
    throw new ScheduleReportError(
      `Stack '${where.stack}' has no ${STACK_OUTPUTS.bucket} output: is it a squall stack?`,
    );
  }
  const text = outputs[SCHEDULES_OUTPUT];
  let schedules: ScheduleListing[] = [];
  if (text) {
    try {
      schedules = JSON.parse(text) as ScheduleListing[];
    } catch (error) {
      throw new ScheduleReportError(
        `The ${SCHEDULES_OUTPUT} output of ${place} is not JSON: ${toError(error).message}`,
      );
    }
  }
  const address: SquallAddress = {
    region: where.region,
    endpoint: where.endpoint,
    bucket,
    taskQueueUrl: outputs[STACK_OUTPUTS.taskQueueUrl] ?? "",
    completionQueueUrl: outputs[STACK_OUTPUTS.completionQueueUrl] ?? "",
  };
  // Scheduler counts a rate from the schedule's creation, which the outputs do not say.
  return report(address, schedules, undefined, `${place} (bucket ${bucket})`, now);
}

/** The kept local environment's schedules: its announcement and its bucket. */
export async function keptScheduleReport(
  announcement: Announcement,
  now = Date.now(),
): Promise<ScheduleReport> {
  return report(
    announcedAddress(announcement),
    announcement.schedules ?? [],
    announcement.schedulesSince,
    `the local environment (bucket ${announcement.bucket})`,
    now,
  );
}

async function report(
  address: SquallAddress,
  schedules: readonly ScheduleListing[],
  since: number | undefined,
  where: string,
  now: number,
): Promise<ScheduleReport> {
  if (schedules.length === 0) return { where, rows: [], unread: 0 };
  const { s3, store } = bucketStore(address);
  try {
    const runs = await scheduledRuns(s3, store, address.bucket, schedules);
    const rows = schedules.map((schedule) => ({
      ...schedule,
      next: schedule.enabled ? nextFireTimes(schedule, new Date(now), 1, since)[0]?.getTime() : undefined,
      lastRuns: runs.bySchedule.get(schedule.name) ?? [],
    }));
    return { where, rows, unread: runs.unread };
  } catch (error) {
    throw new ScheduleReportError(
      `Could not read the flow runs in ${where}: ${toError(error).message}. Check that the credentials may list and read the bucket (s3:ListBucket, s3:GetObject).`,
      { cause: error },
    );
  } finally {
    s3.destroy();
  }
}

/** A stack's outputs by key. */
async function stackOutputs(where: StackWhere): Promise<Record<string, string>> {
  const { CloudFormationClient, DescribeStacksCommand } = await import("@aws-sdk/client-cloudformation");
  const local = where.endpoint !== undefined;
  const client = new CloudFormationClient({
    region: where.region ?? (local && !process.env.AWS_REGION ? "us-east-1" : undefined),
    endpoint: where.endpoint,
    // An emulator takes any credentials; AWS takes the SDK's usual chain.
    credentials:
      local && !process.env.AWS_ACCESS_KEY_ID && !process.env.AWS_PROFILE
        ? { accessKeyId: "squall-local", secretAccessKey: "squall-local" }
        : undefined,
  });
  try {
    const answer = await client.send(new DescribeStacksCommand({ StackName: where.stack }));
    return Object.fromEntries(
      (answer.Stacks?.[0]?.Outputs ?? []).map((output) => [output.OutputKey ?? "", output.OutputValue ?? ""]),
    );
  } catch (error) {
    throw new ScheduleReportError(
      `Could not read stack '${where.stack}' (${toError(error).message}). Deploy it with \`npx cdk deploy\`, or check the region and credentials.`,
      { cause: error },
    );
  } finally {
    client.destroy();
  }
}
