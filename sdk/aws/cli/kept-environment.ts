// The process behind `squall env start`: a local environment kept running, announced in the
// project's squall folder until it stops; and what `squall env status` reads of one.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import { clientsFor } from "../address.js";
import {
  type Announcement,
  announcedAddress,
  removeAnnouncement,
  writeAnnouncement,
} from "../local/announcement.js";
import { type LocalEnvironmentOptions, startLocalEnvironment } from "../local/environment.js";
import { runIds } from "../records/bucket-runs.js";

/**
 * Starts a local environment for the project at `projectRoot`, announces it at `path`, and
 * resolves once a stop signal (SIGTERM, SIGINT, SIGHUP) has stopped it and removed the announcement.
 */
export async function serveKeptEnvironment(
  path: string,
  options: LocalEnvironmentOptions & { readonly projectRoot: string },
  onUp: (announcement: Announcement) => void,
): Promise<void> {
  const local = await startLocalEnvironment(options);
  const announcement: Announcement = {
    v: 1,
    pid: process.pid,
    startedAt: new Date().toISOString(),
    projectRoot: options.projectRoot,
    endpoint: local.address.endpoint,
    region: local.address.region,
    bucket: local.address.bucket,
    taskQueueUrl: local.address.taskQueueUrl,
    completionQueueUrl: local.address.completionQueueUrl,
    deadLetterQueueUrl: local.deadLetterQueueUrl,
    workerTimeoutSeconds: local.address.workerTimeoutSeconds,
    callerSilenceSeconds: local.address.callerSilenceSeconds,
    ...(Object.keys(local.address.pools).length > 0 && { pools: local.address.pools }),
    ...(local.flowRunnerFunctionName !== undefined && {
      flowRunnerFunctionName: local.flowRunnerFunctionName,
    }),
    ...(local.schedules.listed.length > 0 && {
      schedules: local.schedules.listed,
      schedulesSince: local.schedules.since,
    }),
    ...(local.address.flowQueueUrl && { flowQueueUrl: local.address.flowQueueUrl }),
  };
  let signalled!: (signal: NodeJS.Signals) => void;
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
    signalled = resolve;
  });
  const signals = ["SIGTERM", "SIGINT", "SIGHUP"] as const;
  for (const signal of signals) process.on(signal, signalled);
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeAnnouncement(path, announcement);
    onUp(announcement);
    await stopSignal;
  } finally {
    removeAnnouncement(path, process.pid);
    await local.stop();
    for (const signal of signals) process.off(signal, signalled);
  }
}

/** What a kept environment holds now: messages per queue, and flow runs in its bucket. */
export interface EnvironmentCounts {
  readonly queues: readonly { readonly name: string; readonly waiting: number; readonly inFlight: number }[];
  readonly runs: number;
}

export async function environmentCounts(announcement: Announcement): Promise<EnvironmentCounts> {
  const { s3, sqs } = clientsFor(announcedAddress(announcement));
  try {
    const count = async (name: string, url: string) => {
      const answer = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: url,
          AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        }),
      );
      const attributes = answer.Attributes ?? {};
      return {
        name,
        waiting: Number(attributes.ApproximateNumberOfMessages ?? 0),
        inFlight: Number(attributes.ApproximateNumberOfMessagesNotVisible ?? 0),
      };
    };
    const [queues, ids] = await Promise.all([
      Promise.all([
        count("tasks", announcement.taskQueueUrl),
        count("completions", announcement.completionQueueUrl),
        count("dead letters", announcement.deadLetterQueueUrl),
      ]),
      runIds(s3, announcement.bucket),
    ]);
    return { queues, runs: ids.length };
  } finally {
    s3.destroy();
    sqs.destroy();
  }
}
