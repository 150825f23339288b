import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { type CfnTemplate, parseStackTemplate, readStackTemplate } from "./template.js";

describe("the template reader", () => {
  it("reads the synthesized stack's functions, mappings, queues and role policies", () => {
    const stack = readStackTemplate(inject("squallCloudAssembly"), "Squall");
    const byPrefix = <T extends { logicalId: string }>(items: readonly T[], prefix: string) =>
      items.find((item) => item.logicalId.startsWith(prefix)) as T;

    expect(stack.functions).toHaveLength(3);
    const worker = byPrefix(stack.functions, "SquallWorkerFunction");
    const flowRunner = byPrefix(stack.functions, "SquallFlowRunnerFunction");
    expect(worker).toMatchObject({
      handler: "index.handler",
      runtime: "nodejs24.x",
      timeoutSeconds: 60,
      memoryMb: 1024,
    });
    expect(flowRunner).toMatchObject({ timeoutSeconds: 900, memoryMb: 1024 });
    for (const fn of stack.functions)
      expect(existsSync(join(fn.codeDir, "index.mjs")), fn.codeDir).toBe(true);
    expect(worker.environment.SQUALL_TASK_QUEUE_URL).toEqual({
      Ref: expect.stringMatching(/^SquallTasksQueue/),
    });

    const tasksQueue = byPrefix(stack.queues, "SquallTasksQueue");
    expect(tasksQueue.deadLetterQueueLogicalId).toMatch(/^SquallTasksDeadLetters/);
    expect(tasksQueue.properties).toMatchObject({
      VisibilityTimeout: 360,
      RedrivePolicy: { maxReceiveCount: 10 },
    });

    const short = (logicalId: string) => logicalId.replace(/[0-9A-F]{8}$/, "");
    expect(
      stack.mappings.map((m) => [
        short(m.functionLogicalId),
        short(m.queueLogicalId),
        m.batchSize,
        m.batchingWindowSeconds,
        m.maximumConcurrency,
        m.reportBatchItemFailures,
      ]),
    ).toEqual([
      ["SquallWorkerFunction", "SquallTasksQueue", 10, 0, 100, true],
      ["SquallCoordinatorFunction", "SquallCompletionsQueue", 10, 1, 5, true],
      ["SquallCoordinatorFunction", "SquallTasksDeadLetters", 10, 0, 2, true],
      ["SquallCoordinatorFunction", "SquallFlowQueueDeadLetters", 10, 0, 2, true],
      ["SquallFlowRunnerFunction", "SquallFlowQueue", 1, 0, undefined, true],
    ]);

    const workerRole = worker.roleLogicalId as string;
    const workerActions = stack.policies
      .filter((policy) => policy.roles.includes(workerRole))
      .flatMap((policy) => policy.statements.flatMap((statement) => statement.Action));
    expect(workerActions).toEqual(
      expect.arrayContaining(["sqs:ReceiveMessage", "s3:GetObject", "s3:ListBucket"]),
    );
  });

  it("applies Lambda's defaults, attaches managed and inline policies to roles, and reads EventInvokeConfig", () => {
    const template: CfnTemplate = {
      Resources: {
        Role: {
          Type: "AWS::IAM::Role",
          Properties: {
            ManagedPolicyArns: [{ Ref: "Callers" }],
            Policies: [
              {
                PolicyName: "inline",
                PolicyDocument: { Statement: { Effect: "Allow", Action: "s3:GetObject", Resource: "*" } },
              },
            ],
          },
        },
        Callers: {
          Type: "AWS::IAM::ManagedPolicy",
          Properties: {
            ManagedPolicyName: "SquallCaller",
            PolicyDocument: { Statement: [{ Effect: "Allow", Action: "sqs:*", Resource: "*" }] },
          },
        },
        Fn: { Type: "AWS::Lambda::Function", Properties: { Role: { "Fn::GetAtt": ["Role", "Arn"] } } },
        Config: {
          Type: "AWS::Lambda::EventInvokeConfig",
          Properties: { FunctionName: { Ref: "Fn" }, Qualifier: "$LATEST", MaximumRetryAttempts: 0 },
        },
      },
    };

    const stack = parseStackTemplate(template, "Test", () => "/code");

    expect(stack.functions).toEqual([
      {
        logicalId: "Fn",
        handler: "index.handler",
        runtime: "",
        codeDir: "/code",
        timeoutSeconds: 3,
        memoryMb: 128,
        roleLogicalId: "Role",
        environment: {},
      },
    ]);
    expect(stack.policies.map((policy) => [policy.logicalId, policy.roles])).toEqual([
      ["Role", ["Role"]],
      ["Callers", ["Role"]],
    ]);
    expect(stack.invokeConfigs).toEqual([
      { functionLogicalId: "Fn", maximumRetryAttempts: 0, maximumEventAgeSeconds: undefined },
    ]);
  });

  it("refuses a role attaching a managed policy the template does not hold", () => {
    const template: CfnTemplate = {
      Resources: {
        Role: {
          Type: "AWS::IAM::Role",
          Properties: { ManagedPolicyArns: ["arn:aws:iam::aws:policy/AdministratorAccess"] },
        },
      },
    };
    expect(() => parseStackTemplate(template, "Test", () => "/code")).toThrow(/not in the template/);
  });
});
