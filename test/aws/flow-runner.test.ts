// The deployed flow-runner starting the repository's `greetings` through Lambda's Invoke API, as
// the README's "Starting flows from a Lambda" shows: the synthesized bundle run as a process by
// the harness, every AWS limit on, its flow's tasks going to the synthesized worker through the
// task queue. Each test deploys a stack of its own, so the bucket holds its runs alone.
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { describe, expect, inject, it } from "vitest";
import { type DeployedStack, deployStack } from "./harness/deployed-stack.js";
import { documentedCallerPolicy, readTemplate } from "./support/caller-policy.js";
import { finishedRun, flowRunIds } from "./support/flow-runs.js";
import { expectCompletedGreetings, NAMES } from "./support/greetings.js";
import { whatHappened } from "./support/report.js";

const cloudAssembly = inject("squallCloudAssembly");
const template = readTemplate(cloudAssembly);

async function onStack(test: (stack: DeployedStack, invoke: Invoker) => Promise<void>): Promise<void> {
  // Lambda's retries of a failed Event invocation, one and two minutes apart on AWS, come sooner here.
  const stack = await deployStack({
    cloudAssembly,
    callerPolicy: documentedCallerPolicy(template),
    asyncRetryDelaysMs: [500, 1_000],
  });
  const lambda = new LambdaClient({
    endpoint: stack.endpoint,
    region: stack.region,
    credentials: stack.caller("invoker"),
  });
  const invoke: Invoker = async (payload, type) => {
    const answer = await lambda.send(
      new InvokeCommand({
        FunctionName: stack.outputs.FlowRunnerFunctionName,
        Payload: JSON.stringify(payload),
        InvocationType: type,
      }),
    );
    const text = Buffer.from(answer.Payload ?? new Uint8Array()).toString("utf8");
    return {
      status: answer.StatusCode,
      functionError: answer.FunctionError,
      body: text ? JSON.parse(text) : undefined,
    };
  };
  try {
    await test(stack, invoke);
  } finally {
    lambda.destroy();
    await stack.stop();
  }
}

type Invoker = (
  payload: unknown,
  type?: "Event" | "RequestResponse",
) => Promise<{ status?: number; functionError?: string; body: unknown }>;

/** The state of each flow run in the bucket once the stack has nothing left to do. */
async function finalStates(stack: DeployedStack): Promise<(string | undefined)[]> {
  expect(await stack.quiet(), `still busy\n${whatHappened(stack)}`).toBe(true);
  const ids = await flowRunIds(stack);
  return Promise.all(ids.map(async (id) => (await finishedRun(stack, id, 0)).summary?.state));
}

describe.concurrent("the flow-runner, invoked through Lambda's Invoke API, on the synthesized stack with AWS's limits", () => {
  it("runs greetings by name when invoked synchronously, and answers its run's id and result", () =>
    onStack(async (stack, invoke) => {
      const answer = await invoke({ flow: "greetings", parameters: [NAMES] });

      expect(answer.functionError, `${JSON.stringify(answer.body)}\n${whatHappened(stack)}`).toBeUndefined();
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({
        flowRunId: expect.any(String),
        flowRunName: expect.any(String),
        flowName: "greetings",
        state: "Completed",
        result: null,
      });
      const id = await expectCompletedGreetings(stack, NAMES);
      expect(id).toBe((answer.body as { flowRunId: string }).flowRunId);
      expect(stack.fn("SquallFlowRunnerFunction").invocations.map((i) => [i.source, i.result])).toEqual([
        ["RequestResponse", "ok"],
      ]);
    }));

  it("runs greetings once when invoked asynchronously (Event)", () =>
    onStack(async (stack, invoke) => {
      const answer = await invoke({ flow: "greetings", parameters: [NAMES] }, "Event");
      expect(answer.status).toBe(202);
      const flowRunner = stack.fn("SquallFlowRunnerFunction");
      expect(await stack.quiet(), `still busy\n${whatHappened(stack)}`).toBe(true);

      expect(
        flowRunner.invocations.map((i) => [i.source, i.attempt, i.result]),
        whatHappened(stack),
      ).toEqual([["Event", 1, "ok"]]);
      await expectCompletedGreetings(stack, NAMES);
    }));

  // A flow run that fails is the flow's outcome, not a failed delivery: Lambda retrying the
  // invocation would start the flow again, twice by default.
  it("starts a flow whose run fails once when invoked asynchronously, not once per Lambda retry", () =>
    onStack(async (stack, invoke) => {
      const answer = await invoke({ flow: "greetings", parameters: 42 }, "Event"); // names is not iterable
      expect(answer.status).toBe(202);
      const flowRunner = stack.fn("SquallFlowRunnerFunction");

      expect(await finalStates(stack), whatHappened(stack)).toEqual(["Failed"]);
      expect(
        flowRunner.invocations.map((i) => [i.source, i.attempt, i.result]),
        whatHappened(stack),
      ).toEqual([["Event", 1, "FlowRunFailedError"]]);
    }));
});
