import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EVENT_PAYLOAD_LIMIT, FlowRunnerNotFoundError, startFlowRun } from "squall/aws";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../../sdk/errors.js";
import { startFakeStack } from "../support/fake-stack.js";

// A stand-in for Lambda's Invoke API: it keeps what it was sent and answers as Lambda answers an
// Event invocation (202), or a function it does not have (404 ResourceNotFoundException).
interface Invocation {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: unknown;
}
let server: Server;
let endpoint: string;
const invocations: Invocation[] = [];

beforeAll(async () => {
  server = createServer((request, answer) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const path = decodeURIComponent(request.url ?? "");
      invocations.push({
        path,
        headers: request.headers,
        body: JSON.parse(Buffer.concat(chunks).toString()),
      });
      if (path.includes("/functions/missing/")) {
        answer.writeHead(404, {
          "x-amzn-errortype": "ResourceNotFoundException",
          "content-type": "application/json",
        });
        answer.end(JSON.stringify({ Type: "User", message: "Function not found: missing" }));
        return;
      }
      answer.writeHead(202);
      answer.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
afterEach(() => {
  invocations.length = 0;
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe("startFlowRun", () => {
  it("invokes the flow-runner asynchronously with { flow, parameters, flowRunId } and resolves with the run id it minted", async () => {
    const target = { functionName: "squall-flow-runner", endpoint, region: "eu-west-1" };

    const { flowRunId } = await startFlowRun(target, "greetings", [["arthur", "ford"]]);

    expect(flowRunId).toMatch(UUID);
    expect(invocations).toHaveLength(1);
    expect(invocations[0]?.path).toBe("/2015-03-31/functions/squall-flow-runner/invocations");
    expect(invocations[0]?.headers["x-amz-invocation-type"]).toBe("Event");
    expect(invocations[0]?.body).toEqual({ flow: "greetings", parameters: [["arthur", "ford"]], flowRunId });
  });

  it("uses the run id it is given, and mints a new one for each run otherwise", async () => {
    const target = { functionName: "squall-flow-runner", endpoint };

    const given = await startFlowRun(target, "greetings", [[]], { flowRunId: "nightly-2026-12-08" });
    const first = await startFlowRun(target, "greetings", [[]]);
    const second = await startFlowRun(target, "greetings", [[]]);

    expect(given.flowRunId).toBe("nightly-2026-12-08");
    expect(invocations.map((invocation) => (invocation.body as { flowRunId: string }).flowRunId)).toEqual([
      "nightly-2026-12-08",
      first.flowRunId,
      second.flowRunId,
    ]);
    expect(first.flowRunId).not.toBe(second.flowRunId);
  });

  it.each([
    [[() => 1], "`parameters[0]` is a function"],
    [[{ when: new Date(0) }], "`parameters[0].when` is a Date, which JSON does not keep as it is"],
    [[{ ids: new Map() }], "`parameters[0].ids` is a Map, which JSON does not keep as it is"],
    [[{ size: undefined }], "`parameters[0].size` is undefined"],
    [[Number.NaN], "`parameters[0]` is NaN, which JSON turns into null"],
    [[10n], "`parameters[0]` is a bigint"],
  ])("refuses parameters JSON would not carry as they are, naming where: %o", async (parameters, problem) => {
    await expect(startFlowRun({ functionName: "f", endpoint }, "greetings", parameters)).rejects.toThrow(
      new InvalidArgumentError(
        `Expected \`parameters\` to be JSON (the flow-runner gets them as JSON), but ${problem}.`,
      ),
    );
    expect(invocations).toHaveLength(0);
  });

  it("refuses parameters that refer back to themselves", async () => {
    const loop: Record<string, unknown> = {};
    loop.self = loop;

    await expect(startFlowRun({ functionName: "f", endpoint }, "greetings", [loop])).rejects.toThrow(
      "but `parameters[0].self` refers back to itself.",
    );
  });

  it("refuses an event above Lambda's 1 MB limit for Event invocations, naming its size and what to do instead", async () => {
    const text = "x".repeat(EVENT_PAYLOAD_LIMIT);

    await expect(startFlowRun({ functionName: "f", endpoint }, "greetings", [text])).rejects.toThrow(
      new InvalidArgumentError(
        `The flow-runner's event would be 1,048,665 bytes, more than Lambda takes for an asynchronous invocation (1,048,576): put large inputs in the bucket and pass their key as a parameter.`,
      ),
    );
    expect(invocations).toHaveLength(0);
  });

  it("takes an event just at the limit", async () => {
    const overhead = JSON.stringify({ flow: "f", parameters: [""], flowRunId: "r" }).length;

    await startFlowRun({ functionName: "ok", endpoint }, "f", ["x".repeat(EVENT_PAYLOAD_LIMIT - overhead)], {
      flowRunId: "r",
    });

    expect(invocations).toHaveLength(1);
  });

  it("refuses a run id that is not one", async () => {
    await expect(
      startFlowRun({ functionName: "f", endpoint }, "greetings", [], { flowRunId: "../other" }),
    ).rejects.toThrow("Expected `flowRunId` to be 1 to 128 letters, digits, `_` or `-`, got `../other`");
  });

  it("says so when there is no such function", async () => {
    const started = startFlowRun({ functionName: "missing", endpoint }, "greetings", []);

    await expect(started).rejects.toBeInstanceOf(FlowRunnerNotFoundError);
    await expect(started).rejects.toThrow(
      "There is no function missing (as given) to start flow 'greetings' on: deploy the stack, or check the region.",
    );
  });

  describe("on a stack", () => {
    const fakeStack = (outputs: Record<string, string>) =>
      startFakeStack(
        "Squall",
        { endpoint, taskQueueUrl: `${endpoint}/q/t`, completionQueueUrl: `${endpoint}/q/c`, bucket: "b" },
        { outputs },
      );

    it("invokes the function its FlowRunnerFunctionName output names", async () => {
      const stack = await fakeStack({
        FlowRunnerFunctionName: "Squall-FlowRunner-1A2B3C",
        FlowQueueUrl: `${endpoint}/q/flows`,
      });
      try {
        const { flowRunId } = await startFlowRun(
          { stack: "Squall", endpoint: stack.endpoint, region: "eu-west-1" },
          "greetings",
          [["ford"]],
        );

        expect(invocations.map((invocation) => [invocation.path, invocation.body])).toEqual([
          [
            "/2015-03-31/functions/Squall-FlowRunner-1A2B3C/invocations",
            { flow: "greetings", parameters: [["ford"]], flowRunId },
          ],
        ]);
      } finally {
        await stack.close();
      }
    });

    it("refuses a stack without that output or without a flow queue, and one that does not exist", async () => {
      const stack = await fakeStack({});
      try {
        await expect(
          startFlowRun({ stack: "Squall", endpoint: stack.endpoint }, "greetings", []),
        ).rejects.toThrow(
          new FlowRunnerNotFoundError(
            "Stack 'Squall' has no output FlowRunnerFunctionName: deploy it with a version of squall whose stack has a flow-runner.",
          ),
        );
        const older = await fakeStack({ FlowRunnerFunctionName: "Squall-FlowRunner-1A2B3C" });
        try {
          await expect(
            startFlowRun({ stack: "Squall", endpoint: older.endpoint }, "greetings", []),
          ).rejects.toThrow(
            new FlowRunnerNotFoundError(
              "Stack 'Squall' has no output FlowQueueUrl: its flow-runner predates durable runs and would not run the flow under the id returned. Deploy it again with this version of squall.",
            ),
          );
        } finally {
          await older.close();
        }
        await expect(
          startFlowRun({ stack: "Elsewhere", endpoint: stack.endpoint }, "greetings", []),
        ).rejects.toThrow(
          new FlowRunnerNotFoundError(
            "Could not read stack 'Elsewhere' (Stack with id Elsewhere does not exist). Deploy it with `npx cdk deploy`, or check the region and credentials.",
          ),
        );
        expect(invocations).toHaveLength(0);
      } finally {
        await stack.close();
      }
    });
  });

  describe("with no target: the kept local environment", () => {
    const home = mkdtempSync(join(tmpdir(), "squall-start-"));
    const before = process.env.SQUALL_HOME;
    beforeAll(() => {
      process.env.SQUALL_HOME = home;
    });
    afterAll(() => {
      if (before === undefined) delete process.env.SQUALL_HOME;
      else process.env.SQUALL_HOME = before;
      rmSync(home, { recursive: true, force: true });
    });
    const announce = (more: Record<string, unknown>) =>
      writeFileSync(
        join(home, "env.json"),
        JSON.stringify({
          v: 1,
          pid: process.pid,
          startedAt: new Date().toISOString(),
          projectRoot: home,
          endpoint,
          region: "us-east-1",
          bucket: "squall-b",
          taskQueueUrl: `${endpoint}/000000000000/t`,
          completionQueueUrl: `${endpoint}/000000000000/c`,
          deadLetterQueueUrl: `${endpoint}/000000000000/d`,
          workerTimeoutSeconds: 60,
          callerSilenceSeconds: 180,
          ...more,
        }),
      );

    it("refuses when none is announced", async () => {
      rmSync(join(home, "env.json"), { force: true });

      await expect(startFlowRun(undefined, "greetings", [])).rejects.toThrow(
        new FlowRunnerNotFoundError(
          "No local environment runs for this project to start a flow run on: start one with `squall env start --flows <module>`, or give { stack } or { functionName }.",
        ),
      );
    });

    it("refuses one without a flow-runner", async () => {
      announce({});

      await expect(startFlowRun(undefined, "greetings", [])).rejects.toThrow(
        "The local environment kept for this project has no flow-runner: restart it with `squall env stop` and `squall env start --flows <module>`.",
      );
    });

    it("invokes its flow-runner at its endpoint", async () => {
      announce({ flowRunnerFunctionName: "squall-flow-runner-kept" });

      const { flowRunId } = await startFlowRun(undefined, "greetings", [["zaphod"]]);

      expect(invocations.map((invocation) => [invocation.path, invocation.body])).toEqual([
        [
          "/2015-03-31/functions/squall-flow-runner-kept/invocations",
          { flow: "greetings", parameters: [["zaphod"]], flowRunId },
        ],
      ]);
    });
  });
});
