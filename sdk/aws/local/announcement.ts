// A kept local environment (`squall env start`) announces itself in the project's squall folder
// (`.squall/`, or $SQUALL_HOME), in `env.json`: where it is and which process runs it, so that
// `LambdaTaskRunner()`, `squall run --runner lambda`, `squall runs|show|logs|dashboard --env` and
// the AWS CLI find it. The process that runs it writes the file (atomically) once it is up, and
// removes it when it stops; a file whose process is gone is stale, and is recognised as such.
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { PoolAddress, SquallAddress } from "../address.js";
import type { ScheduleListing } from "../schedules/definition.js";

/** The announcement's file name in the squall folder. */
export const ANNOUNCEMENT_FILE = "env.json";

/** What `.squall/env.json` holds. */
export interface Announcement {
  /** The format's version. */
  readonly v: 1;
  /** The process running the environment. */
  readonly pid: number;
  /** When it started, as an ISO 8601 time. */
  readonly startedAt: string;
  /** The folder whose source files the workers may import task modules from. */
  readonly projectRoot: string;
  readonly endpoint: string;
  readonly region: string;
  readonly bucket: string;
  readonly taskQueueUrl: string;
  readonly completionQueueUrl: string;
  readonly deadLetterQueueUrl: string;
  readonly workerTimeoutSeconds: number;
  readonly callerSilenceSeconds: number;
  /** Its worker pools besides the default one, by name, when it has any. */
  readonly pools?: Readonly<Record<string, PoolAddress>>;
  /** The flow-runner's name for Lambda's Invoke API at `endpoint`, when it runs a flows module. */
  readonly flowRunnerFunctionName?: string;
  /** The schedules it fires (`squall env start --schedules`), when it has any. */
  readonly schedules?: readonly ScheduleListing[];
  /** When its scheduler began, in milliseconds since the epoch: its rates count from then. */
  readonly schedulesSince?: number;
  /** Its flow queue, when it has a flow-runner. */
  readonly flowQueueUrl?: string;
}

/** The squall folder of the project at `cwd`: `$SQUALL_HOME`, or `.squall`. */
export function squallFolder(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  return resolve(cwd, env.SQUALL_HOME || ".squall");
}

/** Where the announcement of the project at `cwd` is. */
export function announcementPath(folder = squallFolder()): string {
  return join(folder, ANNOUNCEMENT_FILE);
}

/** What `path` announces, or `undefined` when there is no such file or it is not an announcement. */
export function readAnnouncement(path = announcementPath()): Announcement | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
  try {
    const value = JSON.parse(text) as Partial<Announcement>;
    const strings = ["endpoint", "region", "bucket", "taskQueueUrl", "completionQueueUrl"] as const;
    if (
      value.v !== 1 ||
      !Number.isInteger(value.pid) ||
      strings.some((key) => typeof value[key] !== "string")
    ) {
      return undefined;
    }
    return value as Announcement;
  } catch {
    return undefined;
  }
}

/** Writes the announcement so that a reader sees the whole file or none (a temporary file, renamed). */
export function writeAnnouncement(path: string, announcement: Announcement): void {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(announcement, null, 2)}\n`);
  renameSync(temporary, path);
}

/** Removes the announcement at `path` if it names process `pid` (another environment's is left alone). */
export function removeAnnouncement(path: string, pid: number): void {
  if (readAnnouncement(path)?.pid === pid) rmSync(path, { force: true });
}

/** Whether process `pid` runs. */
export function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"; // it runs, as another user
  }
}

/** The address a caller uses for an announced environment. */
export function announcedAddress(announcement: Announcement): SquallAddress {
  return {
    region: announcement.region,
    endpoint: announcement.endpoint,
    taskQueueUrl: announcement.taskQueueUrl,
    completionQueueUrl: announcement.completionQueueUrl,
    bucket: announcement.bucket,
    workerTimeoutSeconds: announcement.workerTimeoutSeconds,
    callerSilenceSeconds: announcement.callerSilenceSeconds,
    ...(announcement.pools && { pools: announcement.pools }),
    ...(announcement.flowQueueUrl && { flowQueueUrl: announcement.flowQueueUrl }),
  };
}

/**
 * The environment announced for the project at the working folder, if its process runs; a stale
 * announcement (its process is gone) is reported through `onStale` and otherwise ignored.
 */
export function announcedEnvironment(
  onStale?: (announcement: Announcement, path: string) => void,
  path = announcementPath(),
): Announcement | undefined {
  const announcement = readAnnouncement(path);
  if (!announcement) return undefined;
  if (processRuns(announcement.pid)) return announcement;
  onStale?.(announcement, path);
  return undefined;
}

/** The lines that tell where an environment is and how the AWS CLI looks inside it. */
export function describeEnvironment(announcement: Announcement): string[] {
  const { endpoint, bucket } = announcement;
  return [
    `  endpoint      ${endpoint} (region ${announcement.region})`,
    `  bucket        ${bucket}`,
    `  task queue    ${announcement.taskQueueUrl}`,
    `  completions   ${announcement.completionQueueUrl}`,
    `  dead letters  ${announcement.deadLetterQueueUrl}`,
    ...Object.entries(announcement.pools ?? {}).map(
      ([name, pool]) =>
        `  pool ${name}: task queue ${pool.taskQueueUrl}, worker timeout ${pool.workerTimeoutSeconds} s`,
    ),
    ...(announcement.flowRunnerFunctionName !== undefined
      ? [`  flow-runner   ${announcement.flowRunnerFunctionName} (Lambda's Invoke API at the endpoint)`]
      : []),
    ...(announcement.schedules ?? []).map(
      (schedule) =>
        `  schedule ${schedule.name}: flow ${schedule.flow}, ${schedule.expression} ${schedule.timezone}${schedule.enabled ? "" : " (disabled)"}`,
    ),
    `  look inside:  aws --endpoint-url ${endpoint} s3 ls s3://${bucket}/runs/ --recursive`,
    `                aws --endpoint-url ${endpoint} sqs get-queue-attributes --queue-url ${announcement.taskQueueUrl} --attribute-names All`,
  ];
}
