import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { type LocalEnvironment, S3ResultStore, startLocalEnvironment } from "squall/aws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { journalKey } from "../../sdk/aws/durable/journal.js";
import { readStartRecord } from "../../sdk/aws/durable/start-record.js";
import { FLOW_QUEUE_VARIABLE, FLOWS_VARIABLE, flowRunnerHandler } from "../../sdk/aws/handlers.js";
import { readSummary } from "../../sdk/aws/record/run-log.js";
import { callerEnv, PROJECT_ROOT } from "../support/local-environment.js";

// A durable flow run driven by flow-runner invocations in this process, against the local
// environment's queues, bucket and workers: each invocation is given a few seconds, hands the run
// on through the flow queue near its end, and the next resumes it by running the flow again.

const FLOWS = join(PROJECT_ROOT, "test/fixtures/durable-flows.ts");
let local: LocalEnvironment;
let sqs: SQSClient;
let flowQueueUrl: string;
let store: S3ResultStore;
let env: Record<string, string>;

beforeAll(async () => {
  local = await startLocalEnvironment({ workers: 2 });
  sqs = new SQSClient({
    endpoint: local.address.endpoint,
    region: local.address.region,
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });
  const created = await sqs.send(new CreateQueueCommand({ QueueName: `squall-flows-${Date.now()}` }));
  flowQueueUrl = created.QueueUrl as string;
  env = { ...callerEnv(local), [FLOW_QUEUE_VARIABLE]: flowQueueUrl, [FLOWS_VARIABLE]: FLOWS };
  // The flows' LambdaTaskRunner() takes its address from this process's variables.
  Object.assign(process.env, callerEnv(local));
  store = new S3ResultStore({
    bucket: local.address.bucket,
    endpoint: local.address.endpoint,
    region: local.address.region,
  });
  await import("../fixtures/durable-flows.js");
});
afterAll(async () => {
  sqs?.destroy();
  await local?.stop();
});

/** An invocation's context: `ms` left when it began. */
const lasting = (ms: number) => {
  const end = Date.now() + ms;
  return { getRemainingTimeInMillis: () => end - Date.now() };
};

/** Takes the next resume off the flow queue, as its event source would: one an invocation handed on is there when it ends. */
async function nextResume() {
  const answer = await sqs.send(
    new ReceiveMessageCommand({ QueueUrl: flowQueueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 1 }),
  );
  const message = answer.Messages?.[0];
  if (!message) return undefined;
  await sqs.send(new DeleteMessageCommand({ QueueUrl: flowQueueUrl, ReceiptHandle: message.ReceiptHandle }));
  return { Records: [{ messageId: message.MessageId as string, body: message.Body as string }] };
}

/**
 * Resumes the run from the flow queue, invocation after invocation, until it is final; the
 * answers of the invocations that resumed it.
 */
async function driveToEnd(handler: ReturnType<typeof flowRunnerHandler>, ms: number, flowRunId: string) {
  const answers: unknown[] = [];
  const until = Date.now() + 60_000;
  while ((await readSummary(store, flowRunId))?.state === undefined && Date.now() < until) {
    const event = await nextResume();
    if (!event) continue;
    answers.push(await handler(event, lasting(ms)));
    if (answers.length > 30) throw new Error("the run was resumed more than 30 times");
  }
  return answers;
}

async function finalSummary(flowRunId: string, ms = 30_000) {
  const until = Date.now() + ms;
  for (;;) {
    const summary = await readSummary(store, flowRunId);
    if (summary?.state || Date.now() > until) return summary;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function ledgerLines(file: string): string[] {
  return readFileSync(file, "utf8").split("\n").filter(Boolean);
}

describe("a durable flow run handed on near each invocation's end", () => {
  it("completes across invocations, each task run executed once, none sent twice", {
    timeout: 90_000,
  }, async () => {
    const ledger = join(mkdtempSync(join(tmpdir(), "squall-durable-")), "ledger");
    const handler = flowRunnerHandler({ env });
    const flowRunId = "durable-waves-1";
    // 8 waves of 10 runs of 250 ms: ~3 s of work; each invocation gets 2.5 s, 1.5 s of it kept to hand on.
    await expect(
      handler({ flow: "durableWaves", parameters: [ledger, 8, 10, 250], flowRunId }, lasting(2_500)),
    ).rejects.toThrow(
      `goes on in another invocation of the flow-runner: this one neared its timeout. Follow it with \`squall logs --follow ${flowRunId}\`.`,
    );
    const answers = await driveToEnd(handler, 2_500, flowRunId);
    expect(answers.length).toBeGreaterThanOrEqual(1);
    for (const answer of answers) expect(answer).toEqual({ batchItemFailures: [] });

    const summary = await finalSummary(flowRunId);
    expect(summary?.state).toBe("Completed");
    expect(summary?.counts).toEqual({ completed: 80, failed: 0, crashed: 0, cancelled: 0 });
    expect(summary?.returned?.tasks).toBe(80);
    const lines = ledgerLines(ledger)
      .map(Number)
      .sort((a, b) => a - b);
    expect(lines).toEqual(Array.from({ length: 80 }, (_, i) => i));
    const started = await readStartRecord(store, flowRunId);
    expect(started).toMatchObject({ v: 1, flow: "durableWaves", parameters: [ledger, 8, 10, 250] });
  });

  it("fails a run whose flow, run again, submits another task at a call, naming the call", {
    timeout: 60_000,
  }, async () => {
    const ledger = join(mkdtempSync(join(tmpdir(), "squall-durable-")), "ledger");
    const handler = flowRunnerHandler({ env });
    const flowRunId = "drifting-1";
    // Its first invocation runs the first task, sends the second, then waits past its end and hands the run on.
    await expect(
      handler({ flow: "driftingFlow", parameters: [ledger, 3_000], flowRunId }, lasting(2_000)),
    ).rejects.toThrow("goes on in another invocation");
    await driveToEnd(handler, 10_000, flowRunId);
    const summary = await finalSummary(flowRunId);
    expect(summary?.state).toBe("Failed");
    expect(summary?.returned?.message).toContain(
      "resumed, did not submit what it submitted before: its call #2 is task 'ledgerSquare', where the run's record has task 'ledgerLabel'.",
    );
    // The first two calls ran once each; the divergent one ran nothing.
    expect(ledgerLines(ledger).sort()).toEqual(["first", "second"]);
  });

  it("fails a run resumed under other code than it started with, running nothing again", {
    timeout: 60_000,
  }, async () => {
    const ledger = join(mkdtempSync(join(tmpdir(), "squall-durable-")), "ledger");
    const flowRunId = "changed-code-1";
    await expect(
      flowRunnerHandler({ env })(
        { flow: "durableWaves", parameters: [ledger, 4, 5, 400], flowRunId },
        lasting(2_000),
      ),
    ).rejects.toThrow("goes on in another invocation");
    // A flow-runner deployed since, from other code.
    const redeployed = flowRunnerHandler({
      env: { ...env, SQUALL_BUNDLED_MODULES: "flows.ts=0123456789abcdef" },
    });
    await driveToEnd(redeployed, 10_000, flowRunId);
    const summary = await finalSummary(flowRunId);
    expect(summary?.state).toBe("Failed");
    expect(summary?.returned?.message).toContain("started under other code");
    // What the first invocation sent ran once each, and nothing after it did.
    const lines = ledgerLines(ledger);
    expect(new Set(lines).size).toBe(lines.length);
    expect(summary?.returned?.tasks).toBe(lines.length);
    expect(lines.length).toBeLessThan(20);
  });

  it("waits out a sleep past the invocation's end with no invocation running, and resumes when it is over", {
    timeout: 60_000,
  }, async () => {
    const ledger = join(mkdtempSync(join(tmpdir(), "squall-durable-")), "ledger");
    const handler = flowRunnerHandler({ env });
    const flowRunId = "sleepy-1";
    const began = Date.now();
    await expect(
      handler({ flow: "sleepyFlow", parameters: [ledger, 4_000], flowRunId }, lasting(3_000)),
    ).rejects.toThrow("goes on in another invocation");
    // Handed on at once, not at the invocation's end: the sleep outlasts it.
    expect(Date.now() - began).toBeLessThan(1_400);
    // The resume is held back until the sleep is over.
    expect(await nextResume()).toBeUndefined();
    const answers = await driveToEnd(handler, 10_000, flowRunId);
    expect(answers).toEqual([{ batchItemFailures: [] }]);
    const summary = await finalSummary(flowRunId);
    expect(summary?.state).toBe("Completed");
    const lines = ledgerLines(ledger);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toBe("after");
    // The second run of the flow drew what the first did, and the sleep lasted its 4 s in all.
    const sleep = JSON.parse(new TextDecoder().decode(await store.get(journalKey(flowRunId, 1))));
    expect(sleep.sleeps).toHaveLength(1);
    const [, endsAt] = sleep.sleeps[0];
    expect(endsAt - began).toBeGreaterThanOrEqual(4_000);
    const result = JSON.parse(new TextDecoder().decode(await store.get(`runs/${flowRunId}/flow-result`)));
    expect(`before ${result.drawn}`).toBe(lines[0]);
    expect(result.wokeAt).toBeGreaterThanOrEqual(endsAt);
  });
});
