// Delivery as AWS gives it, on the synthesized stack with every limit on: messages throttled
// before any function sees them, and answers lost after the request took effect (so the SDK
// repeats a send or a write that already happened). The laptop runs greetings with
// `LambdaTaskRunner({ stack: "Squall" })` as a caller that may list the bucket, so that only
// delivery is at stake; each run must still end Completed with each task's result once.
import { describe, expect, inject, it } from "vitest";
import { type DeployedStack, type DeployOptions, deployStack } from "./harness/deployed-stack.js";
import { callerPolicyWithList, documentedCallerPolicy, readTemplate } from "./support/caller-policy.js";
import { expectCompletedGreetings, NAMES } from "./support/greetings.js";
import { runOnLaptop } from "./support/laptop.js";
import { whatHappened } from "./support/report.js";

const cloudAssembly = inject("squallCloudAssembly");
const template = readTemplate(cloudAssembly);

async function greetingsOn(
  options: Partial<DeployOptions>,
  arrange: (stack: DeployedStack) => void,
): Promise<void> {
  const stack = await deployStack({
    cloudAssembly,
    callerPolicy: documentedCallerPolicy(template),
    ...options,
  });
  try {
    arrange(stack);
    const run = await runOnLaptop(
      ["--import", "tsx", "test/aws/fixtures/greetings-on-stack.ts", JSON.stringify(NAMES)],
      {
        credentials: stack.caller("laptop", callerPolicyWithList(template)),
        env: { SQUALL_TEST_ENDPOINT: stack.endpoint },
        // Throttled twice with a 2 s visibility timeout, each of the ten task runs (one after
        // another) takes about 4 s to reach a worker: the run takes about 40 s.
        timeoutMs: 100_000,
      },
    );
    // The fault was met, not passed by.
    expect(
      stack.throttles.events.length + stack.lostResponses.events.length,
      whatHappened(stack, run),
    ).toBeGreaterThan(0);
    expect(run.code, whatHappened(stack, run)).toBe(0);
    await expectCompletedGreetings(stack, NAMES, run);
  } finally {
    await stack.stop();
  }
}

/** A signed task message (a caller's or a worker's), as it sits on the task queue. */
const isTaskMessage = (body: string) => body.includes('"tasks":[');

describe.concurrent("greetings under AWS's delivery, on the synthesized stack with AWS's limits", () => {
  // Lambda without free concurrency leaves received messages to come back after their visibility
  // timeout (2 s here, 6 minutes in the template): SQS counts a receive, though nothing ran.
  it(
    "completes when each task message is throttled twice before a worker gets it",
    { timeout: 120_000 },
    () =>
      greetingsOn({ visibilityTimeoutSeconds: 2 }, (stack) => {
        stack.throttle({ when: isTaskMessage, times: 2 });
      }),
  );

  it("completes when the answer to the laptop's SendMessageBatch is lost after the messages were queued", () =>
    greetingsOn({}, (stack) => {
      stack.loseResponses({
        when: (call) => call.operation === "SendMessageBatch" && call.queueUrl === stack.outputs.TaskQueueUrl,
      });
    }));

  it("completes when the connection drops after a worker's outcomes were queued", () =>
    greetingsOn({}, (stack) => {
      stack.loseResponses({
        when: (call) =>
          call.operation === "SendMessageBatch" && call.queueUrl === stack.outputs.CompletionQueueUrl,
        as: "drop",
      });
    }));

  it("completes when the answer to the coordinator's first segment write is lost after it was stored", () =>
    greetingsOn({}, (stack) => {
      stack.loseResponses({
        when: (call) => call.operation === "PutObject" && /^runs\/[^/]+\/log\/00000000$/.test(call.key ?? ""),
      });
    }));
});
