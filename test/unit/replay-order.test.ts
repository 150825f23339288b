// The Lambda runner's session replays the console output and log lines of task runs as their
// outcomes reach the record: those one read of the record brings are printed in the order of
// their own times, not run by run. An in-memory bucket and queue stand in for S3 and SQS.
import { configureLogging, flow, resetLogging, task } from "squall";
import { afterEach, describe, expect, it } from "vitest";
import type { SqsQueue } from "../../sdk/aws/queue.js";
import { appendOutcomes } from "../../sdk/aws/record/run-log.js";
import { LambdaSession } from "../../sdk/aws/runner/session.js";
import type { S3ResultStore } from "../../sdk/aws/s3-store.js";
import type { Outcome, TaskRecord } from "../../sdk/aws/wire/messages.js";
import { asPayload } from "../../sdk/aws/wire/payload.js";
import type { TaskRunner } from "../../sdk/runners/task-runner.js";
import { defaultSerializer } from "../../sdk/serialization/serializer.js";

afterEach(() => resetLogging());

/** A bucket in memory: what the session and the record's writer need of one. */
function memoryBucket() {
  const objects = new Map<string, { bytes: Uint8Array; etag: string }>();
  let version = 0;
  const store = {
    locator: { kind: "s3", bucket: "memory" },
    async put(key: string, bytes: Uint8Array) {
      objects.set(key, { bytes, etag: String(++version) });
    },
    async get(key: string) {
      return objects.get(key)?.bytes;
    },
    async read(key: string, unlessEtag?: string) {
      const found = objects.get(key);
      if (!found) return undefined;
      return found.etag === unlessEtag ? "unchanged" : found;
    },
    async create(key: string, bytes: Uint8Array) {
      if (objects.has(key)) return false;
      objects.set(key, { bytes, etag: String(++version) });
      return true;
    },
    async replace(key: string, bytes: Uint8Array, etag: string) {
      if (objects.get(key)?.etag !== etag) return false;
      objects.set(key, { bytes, etag: String(++version) });
      return true;
    },
  };
  return store;
}

const report = task(function reportLines(name: string) {
  return name;
});

describe("the Lambda runner's session", () => {
  it("prints the lines of outcomes that arrive together in the order of their own times", async () => {
    const printed: string[] = [];
    configureLogging({ write: (line) => printed.push((line.split(" | ").at(-1) ?? "").trim()) });
    const bucket = memoryBucket();
    const sent: TaskRecord[] = [];
    let flowRunId = "";
    let gotBoth: () => void = () => {};
    const both = new Promise<void>((resolve) => {
      gotBoth = resolve;
    });
    const tasks = {
      async sendEach(bodies: string[]) {
        for (const body of bodies) {
          const message = JSON.parse(body.replace(/^\{"mac":"[^"]*",/, "{")) as { tasks: TaskRecord[] };
          sent.push(...message.tasks);
        }
        if (sent.length === 2) gotBoth();
        return { refused: [] };
      },
    } as unknown as SqsQueue;
    const completions = { send: async () => {} } as unknown as SqsQueue;
    const runner: TaskRunner = {
      name: "memory",
      start: (flowRun) => {
        flowRunId = flowRun.id;
        const connection = { tasks, completions, store: bucket as unknown as S3ResultStore };
        return new LambdaSession(
          flowRun,
          connection,
          { inlineArgBytes: 1024, tasksPerMessage: 10 },
          async () => {},
        );
      },
    };
    const replayed = flow({ taskRunner: runner }, async function replayedInOrder() {
      const long = report.submit("long");
      const short = report.submit("short");
      await both;
      // Both outcomes in one segment, the shorter run's first: it ended first.
      const outcome = (record: TaskRecord, startedAt: number, logs: Outcome["logs"]): Outcome => ({
        flowRunId,
        taskRunId: record.taskRunId,
        attempt: 1,
        status: "completed",
        serializer: defaultSerializer.name,
        payload: asPayload(defaultSerializer.serialize(record.taskRunName, "result")),
        startedAt,
        endedAt: startedAt + 100,
        logs,
      });
      const [longRecord, shortRecord] = sent as [TaskRecord, TaskRecord];
      const line = (time: number, message: string) => ({ time, level: "INFO" as const, message });
      await appendOutcomes(bucket, flowRunId, [
        outcome(shortRecord, 1_010, [line(1_010, "short starts"), line(1_020, "short ends")]),
        outcome(longRecord, 1_000, [line(1_000, "long starts"), line(1_030, "long ends")]),
      ]);
      await Promise.all([long.wait(), short.wait()]);
    });

    const state = await replayed.run();

    expect(state.type, "error" in state ? String(state.error) : "").toBe("COMPLETED");
    expect(printed.filter((line) => / (starts|ends)$/.test(line))).toEqual([
      "long starts",
      "short starts",
      "short ends",
      "long ends",
    ]);
  });
});
