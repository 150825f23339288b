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

/** Resumes the run from the flow queue, invocation after invocation, until one leaves nothing to resume. */
async function driveToEnd(handler: ReturnType<typeof flowRunnerHandler>, ms: number) {
  let resumes = 0;
  for (let event = await nextResume(); event; event = await nextResume()) {
    resumes += 1;
    const answer = await handler(event, lasting(ms));
    expect(answer).toEqual({ batchItemFailures: [] });
    if (resumes > 30) throw new Error("the run was resumed more than 30 times");
  }
  return resumes;
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
    const resumes = await driveToEnd(handler, 2_500);
    expect(resumes).toBeGreaterThanOrEqual(1);

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
    await driveToEnd(handler, 10_000);
    const summary = await finalSummary(flowRunId);
    expect(summary?.state).toBe("Failed");
    expect(summary?.returned?.message).toContain(
      "resumed, did not submit what it submitted before: its task run #2 is of task 'ledgerSquare', where the run's record has task 'ledgerLabel'.",
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
    const sentBefore = ledgerLines(ledger).length;
    // A flow-runner deployed since, from other code.
    const redeployed = flowRunnerHandler({
      env: { ...env, SQUALL_BUNDLED_MODULES: "flows.ts=0123456789abcdef" },
    });
    await driveToEnd(redeployed, 10_000);
    const summary = await finalSummary(flowRunId);
    expect(summary?.state).toBe("Failed");
    expect(summary?.returned?.message).toContain("started under other code");
    expect(ledgerLines(ledger).length).toBe(sentBefore);
  });
});
