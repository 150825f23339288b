// A worker pool on the synthesized stack: the repository's app synthesized with a pool `large`
// (`-c squall:pools=...`) and a flows module whose tasks name it, deployed with every AWS limit
// on. The laptop reads the pools from the stack's outputs with the SquallCaller policy alone,
// and each task runs on the function of the pool it names.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DeployedStack, deployStack } from "./harness/deployed-stack.js";
import { synthesize } from "./harness/synth.js";
import { ROOT, runOnLaptop } from "./support/laptop.js";
import { whatHappened } from "./support/report.js";

const scratch = mkdtempSync(join(tmpdir(), "squall-aws-pools-"));
const cloudAssembly = join(scratch, "cdk.out");
let stack: DeployedStack;

beforeAll(async () => {
  await synthesize(ROOT, cloudAssembly, join(scratch, "cdk-home"), {
    "squall:flows": "test/aws/fixtures/pool-flows.ts",
    "squall:pools": JSON.stringify({ large: { memorySize: 2048, timeoutSeconds: 120, maxConcurrency: 2 } }),
  });
  stack = await deployStack({ cloudAssembly });
}, 240_000);
afterAll(async () => {
  await stack?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

type Where = { value: string; functionName: string; memoryMb: string; queue: string };

/** Where acrossPools(["a", "b"]) ran each task: its first task's function for the default pool, its second's for `large`. */
function expectAcrossPools(result: Where[]): void {
  const pool = JSON.parse(stack.outputs.PoolLarge as string) as { taskQueueUrl: string };
  const [defaultFunction, largeFunction] = [result[0]?.functionName, result[1]?.functionName];
  expect(defaultFunction).not.toBe(largeFunction);
  const onDefault = { functionName: defaultFunction, memoryMb: "1024", queue: stack.outputs.TaskQueueUrl };
  const onLarge = { functionName: largeFunction, memoryMb: "2048", queue: pool.taskQueueUrl };
  expect(result).toEqual([
    { value: "default a", ...onDefault },
    { value: "large a", ...onLarge },
    { value: "moved a", ...onLarge },
    { value: "default b", ...onDefault },
    { value: "large b", ...onLarge },
    { value: "moved b", ...onLarge },
  ]);
}

describe("a worker pool on the synthesized stack", () => {
  it("runs each task on the function of the pool it names, the laptop reading the pools from the stack's outputs", {
    timeout: 120_000,
  }, async () => {
    const pool = JSON.parse(stack.outputs.PoolLarge as string) as Record<string, unknown>;
    expect(pool).toEqual({
      name: "large",
      taskQueueUrl: expect.stringMatching(/^http/),
      workerTimeoutSeconds: 120,
    });
    expect(pool.taskQueueUrl).not.toBe(stack.outputs.TaskQueueUrl);

    const run = await runOnLaptop(["--import", "tsx", "test/aws/fixtures/pools-on-stack.ts"], {
      credentials: stack.caller("laptop"),
      env: { SQUALL_TEST_ENDPOINT: stack.endpoint },
      timeoutMs: 100_000,
    });

    expect(run.code, whatHappened(stack, run)).toBe(0);
    const lines = run.stdout.trim().split("\n");
    const { state, result } = JSON.parse(lines[lines.length - 1] as string) as {
      state: string;
      result: Where[];
    };
    expect(state).toBe("Completed");
    expectAcrossPools(result);
    expect(stack.denials).toEqual([]);
  });

  it("runs each task on the function of its pool from the flow-runner, which reads the pools from SQUALL_POOLS", {
    timeout: 120_000,
  }, async () => {
    const lambda = new LambdaClient({
      endpoint: stack.endpoint,
      region: stack.region,
      credentials: stack.caller("invoker"),
    });
    try {
      const answer = await lambda.send(
        new InvokeCommand({
          FunctionName: stack.outputs.FlowRunnerFunctionName,
          Payload: JSON.stringify({ flow: "acrossPools", parameters: [["a", "b"]] }),
        }),
      );
      const body = JSON.parse(Buffer.from(answer.Payload ?? new Uint8Array()).toString("utf8"));

      expect(answer.FunctionError, `${JSON.stringify(body)}\n${whatHappened(stack)}`).toBeUndefined();
      expect(body.state).toBe("Completed");
      expectAcrossPools(body.result as Where[]);
      expect(stack.denials).toEqual([]);
    } finally {
      lambda.destroy();
    }
  });
});
