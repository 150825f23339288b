// The README's examples run from a laptop against the synthesized stack, deployed by the harness
// with every AWS limit on: the three functions from cdk.out as processes, fed by their event
// source mappings, behind IAM and SQS's and Lambda's limits. The laptop is a process of its own
// signing as a caller; `{ stack: "Squall" }` is resolved through DescribeStacks from the
// template's outputs. Each test deploys a stack of its own, so the bucket holds its run alone.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { type DeployedStack, deployStack } from "./harness/deployed-stack.js";
import { callerPolicyWithList, documentedCallerPolicy, readTemplate } from "./support/caller-policy.js";
import { expectCompletedGreetings, NAMES } from "./support/greetings.js";
import { runOnLaptop } from "./support/laptop.js";
import { whatHappened } from "./support/report.js";

const cloudAssembly = inject("squallCloudAssembly");
const template = readTemplate(cloudAssembly);
/** A laptop's run should take seconds; one that hangs is stopped here and reported. */
const LAPTOP_TIMEOUT_MS = 30_000;
const squallHome = mkdtempSync(join(tmpdir(), "squall-aws-laptop-"));
afterAll(() => rmSync(squallHome, { recursive: true, force: true }));

async function onStack(test: (stack: DeployedStack) => Promise<void>): Promise<void> {
  const stack = await deployStack({ cloudAssembly, callerPolicy: documentedCallerPolicy(template) });
  try {
    await test(stack);
  } finally {
    await stack.stop();
  }
}

/** The laptop script running the deployed greetings with `new LambdaTaskRunner({ stack: "Squall" })`. */
const greetingsOnStack = (names: readonly string[]) => [
  "--import",
  "tsx",
  "test/aws/fixtures/greetings-on-stack.ts",
  JSON.stringify(names),
];

describe.concurrent("the README's examples from a laptop, on the synthesized stack with AWS's limits", () => {
  it("runs greetings with new LambdaTaskRunner({ stack: 'Squall' }) as a caller with the documented rights", () =>
    onStack(async (stack) => {
      const run = await runOnLaptop(greetingsOnStack(NAMES), {
        credentials: stack.caller("laptop"),
        env: { SQUALL_TEST_ENDPOINT: stack.endpoint },
        timeoutMs: LAPTOP_TIMEOUT_MS,
      });

      expect(run.code, whatHappened(stack, run)).toBe(0);
      const id = await expectCompletedGreetings(stack, NAMES, run);
      expect(JSON.parse(run.stdout.trim().split("\n").at(-1) ?? "")).toEqual({
        flowRunId: id,
        state: "Completed",
      });
    }));

  it("runs greetings with squall run --stack Squall (the CLI reads the stack's outputs)", () =>
    onStack(async (stack) => {
      const run = await runOnLaptop(
        [
          "sdk/cli/squall.js",
          "run",
          "examples/parallel-flow.ts:greetings",
          "--stack",
          "Squall",
          "--region",
          stack.region,
          "--endpoint",
          stack.endpoint,
          "--params",
          JSON.stringify([NAMES]),
        ],
        {
          credentials: stack.caller("cli"),
          env: { SQUALL_HOME: join(squallHome, "cli") },
          timeoutMs: LAPTOP_TIMEOUT_MS,
        },
      );

      expect(run.code, whatHappened(stack, run)).toBe(0);
      await expectCompletedGreetings(stack, NAMES, run);
    }));

  it("runs examples/parallel-flow.ts as its user runs it, with SQUALL_* exported from the stack's outputs", () =>
    onStack(async (stack) => {
      const run = await runOnLaptop(["--import", "tsx", "examples/parallel-flow.ts"], {
        credentials: stack.caller("script"),
        env: {
          SQUALL_TASK_QUEUE_URL: stack.outputs.TaskQueueUrl as string,
          SQUALL_COMPLETION_QUEUE_URL: stack.outputs.CompletionQueueUrl as string,
          SQUALL_BUCKET: stack.outputs.BucketName as string,
          SQUALL_REGION: stack.region,
          SQUALL_ENDPOINT: stack.endpoint,
        },
        timeoutMs: LAPTOP_TIMEOUT_MS,
      });

      expect(run.code, whatHappened(stack, run)).toBe(0);
      await expectCompletedGreetings(stack, NAMES, run);
    }));

  // With s3:ListBucket besides, the reads of segments not yet written are 404s, as squall expects.
  it("runs greetings with LambdaTaskRunner({ stack: 'Squall' }) as a caller that may also list the bucket", () =>
    onStack(async (stack) => {
      const run = await runOnLaptop(greetingsOnStack(NAMES), {
        credentials: stack.caller("lister", callerPolicyWithList(template)),
        env: { SQUALL_TEST_ENDPOINT: stack.endpoint },
        timeoutMs: LAPTOP_TIMEOUT_MS,
      });

      expect(run.code, whatHappened(stack, run)).toBe(0);
      await expectCompletedGreetings(stack, NAMES, run);
      expect(stack.denials).toEqual([]);
    }));

  // A task argument is any string; SQS takes only XML's characters in a body. The caller may list
  // the bucket here, so that only the characters are at stake.
  it("runs greetings for a name carrying U+FFFF, a character SQS refuses in message bodies", () =>
    onStack(async (stack) => {
      const names = ["zaphod\uFFFF", "arthur"];
      const run = await runOnLaptop(greetingsOnStack(names), {
        credentials: stack.caller("unicode", callerPolicyWithList(template)),
        env: { SQUALL_TEST_ENDPOINT: stack.endpoint },
        timeoutMs: LAPTOP_TIMEOUT_MS,
      });

      expect(run.code, whatHappened(stack, run)).toBe(0);
      await expectCompletedGreetings(stack, names, run);
      expect(stack.refusals).toEqual([]);
    }));
});
