import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { type LocalEnvironment, S3ResultStore, startLocalEnvironment } from "squall/aws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readSegments, readSummary } from "../../sdk/aws/record/run-log.js";
import { sleep } from "../support/async.js";

// The flow-runner on the local environment, started as against AWS: through Lambda's Invoke API.
let local: LocalEnvironment;
let lambda: LambdaClient;

beforeAll(async () => {
  local = await startLocalEnvironment({
    workers: 1,
    flows: "test/fixtures/flow-runner-flows.ts",
    flowRunnerTimeoutSeconds: 3,
  });
  lambda = new LambdaClient({
    endpoint: local.address.endpoint,
    region: local.address.region,
    credentials: { accessKeyId: "squall-local", secretAccessKey: "squall-local" },
  });
});
afterAll(async () => {
  lambda?.destroy();
  await local?.stop();
});

async function invoke(payload: unknown, invocationType?: "Event" | "RequestResponse") {
  const answer = await lambda.send(
    new InvokeCommand({
      FunctionName: local.flowRunnerFunctionName,
      Payload: JSON.stringify(payload),
      InvocationType: invocationType,
    }),
  );
  const text = answer.Payload ? Buffer.from(answer.Payload).toString("utf8") : "";
  return {
    status: answer.StatusCode,
    functionError: answer.FunctionError,
    body: text ? JSON.parse(text) : undefined,
  };
}

describe("the flow-runner, invoked through Lambda's Invoke API on the local environment", () => {
  it("runs a flow by name synchronously and answers its run id and result; its tasks ran in the fleet", async () => {
    const { status, functionError, body } = await invoke({ flow: "shouting", parameters: [["hey", "you"]] });

    expect(status).toBe(200);
    expect(functionError).toBeUndefined();
    expect(body).toMatchObject({ flowName: "shouting", state: "Completed", result: ["HEY", "YOU"] });
    const store = new S3ResultStore({
      bucket: local.address.bucket,
      endpoint: local.address.endpoint,
      region: local.address.region,
    });
    const { segments } = await readSegments(store, body.flowRunId, 0);
    expect(segments.flatMap((s) => s.outcomes).filter((o) => o.status === "completed")).toHaveLength(2);
  });

  it("answers a result too large for Lambda's 6 MB response by its key in the bucket, where it is whole", async () => {
    const bytes = 7 * 1024 * 1024;

    const { status, functionError, body } = await invoke({ flow: "sizeable", parameters: [bytes] });

    expect(status).toBe(200);
    expect(functionError).toBeUndefined();
    expect(body).toEqual({
      flowRunId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      flowRunName: expect.any(String),
      flowName: "sizeable",
      state: "Completed",
      resultKey: `runs/${body.flowRunId}/flow-result`,
      size: bytes + 2,
    });
    const store = new S3ResultStore({
      bucket: local.address.bucket,
      endpoint: local.address.endpoint,
      region: local.address.region,
    });
    const stored = await store.get(body.resultKey);
    expect(stored?.byteLength).toBe(bytes + 2);
    expect(JSON.parse(Buffer.from(stored as Uint8Array).toString("utf8"))).toBe("x".repeat(bytes));
  });

  it("answers a result that fits inline, as it is", async () => {
    const { body } = await invoke({ flow: "sizeable", parameters: [5] });

    expect(body).toEqual({
      flowRunId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      flowRunName: expect.any(String),
      flowName: "sizeable",
      state: "Completed",
      result: "xxxxx",
    });
  });

  it("answers a failed flow with FunctionError and the flow run's error", async () => {
    const { status, functionError, body } = await invoke({ flow: "refusing", parameters: ["not today"] });

    expect(status).toBe(200);
    expect(functionError).toBe("Unhandled");
    expect(body.errorType).toBe("FlowRunFailedError");
    expect(body.errorMessage).toMatch(
      /^Flow run '[a-z]+-[a-z]+' \([0-9a-f-]+\) ended Failed: refused: not today$/,
    );
  });

  it("names the flows it has when asked for one it does not", async () => {
    const { functionError, body } = await invoke({ flow: "nothingLikeIt" });

    expect(functionError).toBe("Unhandled");
    expect(body.errorMessage).toBe(
      "No flow named 'nothingLikeIt' is deployed here; there are: shouting, refusing, lingering, sizeable.",
    );
  });

  it("refuses an event that is not { flow, parameters }", async () => {
    const { functionError, body } = await invoke({ name: "shouting" });

    expect(functionError).toBe("Unhandled");
    expect(body.errorType).toBe("InvalidArgumentError");
  });

  it("answers an Event invocation with 202 at once, without waiting for the flow", async () => {
    const started = Date.now();
    const { status, body } = await invoke({ flow: "lingering", parameters: ["later"] }, "Event");

    expect(status).toBe(202);
    expect(body).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("hands a flow that outlasts the function's timeout on to another invocation, which completes it", async () => {
    const { functionError, body } = await invoke({ flow: "lingering", parameters: ["still"] });

    expect(functionError).toBe("Unhandled");
    expect(body.errorMessage).toMatch(
      /goes on in another invocation of the flow-runner: this one neared its timeout\. Follow it with `squall logs --follow [0-9a-f-]{36}`\./,
    );
    const flowRunId = /\(([0-9a-f-]{36})\)/.exec(body.errorMessage)?.[1] as string;
    const store = new S3ResultStore({
      bucket: local.address.bucket,
      endpoint: local.address.endpoint,
      region: local.address.region,
    });
    let summary = await readSummary(store, flowRunId);
    for (let i = 0; i < 150 && summary?.state === undefined; i++) {
      await sleep(100);
      summary = await readSummary(store, flowRunId);
    }
    // Resumed from the flow queue: its one task, sent once, completed; the run with it.
    expect(summary?.state).toBe("Completed");
    expect(summary?.counts).toEqual({ completed: 1, failed: 0, crashed: 0, cancelled: 0 });
    const result = await store.get(`runs/${flowRunId}/flow-result`);
    expect(JSON.parse(new TextDecoder().decode(result))).toBe("STILL");
  });

  it("answers 404 ResourceNotFoundException for a function it does not have", async () => {
    await expect(lambda.send(new InvokeCommand({ FunctionName: "no-such-function" }))).rejects.toMatchObject({
      name: "ResourceNotFoundException",
      $metadata: { httpStatusCode: 404 },
    });
  });

  it("refuses a flows module that does not exist before starting anything", async () => {
    await expect(startLocalEnvironment({ flows: "test/fixtures/no-such-flows.ts" })).rejects.toThrow(
      /^Expected `flows` to name a flows module, but .*no-such-flows\.ts does not exist/,
    );
  });

  it("refuses a project root that is not a folder before starting anything", async () => {
    for (const projectRoot of ["test/no-such-folder", "package.json"]) {
      await expect(startLocalEnvironment({ projectRoot })).rejects.toThrow(
        `Expected \`projectRoot\` to be the folder of the project whose files define your tasks, got \`${projectRoot}\`, which is not a folder.`,
      );
    }
  });
});
