// Worker pools: a worker function and a task queue (with its dead-letter queue) per pool, all
// reporting to the one coordinator, each granted what the default worker is, on its own queue.
import { Duration, Size } from "aws-cdk-lib";
import type { Role } from "aws-cdk-lib/aws-iam";
import { Architecture } from "aws-cdk-lib/aws-lambda";
import type { Queue } from "aws-cdk-lib/aws-sqs";
import { describe, expect, it } from "vitest";
import type { SquallFunction } from "../../cdk/constructs/squall-function.js";
import { addressFromEnv } from "../../sdk/aws/address.js";
import { arn, logicalId, ref, templateOf } from "./stack.js";

const { squall, template } = templateOf({
  pools: {
    large: {
      memorySize: 6144,
      timeout: Duration.minutes(10),
      maxConcurrency: 20,
      batchSize: 1,
      architecture: Architecture.X86_64,
      ephemeralStorageSize: Size.gibibytes(2),
    },
    "io-bound": { maxBatchingWindow: Duration.seconds(2) },
  },
});
const large = squall.pools.get("large");
const ioBound = squall.pools.get("io-bound");
if (!large || !ioBound) throw new Error("the stack lacks its pools");

const resources = template.toJSON().Resources;
const props = (fn: SquallFunction) => resources[logicalId(fn.function)]?.Properties;

/** A value built with Fn::Join, as text with `<Ref id>` / `<Arn id>` for what CloudFormation fills in. */
function joined(value: unknown): string {
  if (typeof value === "string") return value;
  const v = value as { Ref?: string; "Fn::GetAtt"?: [string, string]; "Fn::Join"?: [string, unknown[]] };
  if (v.Ref) return `<Ref ${v.Ref}>`;
  if (v["Fn::GetAtt"]) return `<Arn ${v["Fn::GetAtt"][0]}>`;
  if (v["Fn::Join"]) return v["Fn::Join"][1].map(joined).join(v["Fn::Join"][0]);
  throw new Error(`cannot read ${JSON.stringify(value)}`);
}
const refText = (queue: Queue) => `<Ref ${logicalId(queue)}>`;
const arnText = (queue: Queue) => `<Arn ${logicalId(queue)}>`;

describe("a worker pool's resources", () => {
  it("is a worker function with the pool's settings, taking from the pool's own queue", () => {
    const fn = props(large.worker);
    expect(fn.MemorySize).toBe(6144);
    expect(fn.Timeout).toBe(600);
    expect(fn.Architectures).toEqual(["x86_64"]);
    expect(fn.EphemeralStorage).toEqual({ Size: 2048 });
    expect(fn.Environment.Variables).toMatchObject({
      SQUALL_TASK_QUEUE_URL: ref(large.tasks.queue),
      SQUALL_COMPLETION_QUEUE_URL: ref(squall.completions.queue),
      SQUALL_BUCKET: ref(squall.results.bucket),
      SQUALL_MAX_DEATHS: "3",
    });
    const other = props(ioBound.worker);
    expect(other.MemorySize).toBe(1024);
    expect(other.Timeout).toBe(60);
    expect(other.Architectures).toEqual(["arm64"]);
    expect(other.Environment.Variables.SQUALL_TASK_QUEUE_URL).toEqual(ref(ioBound.tasks.queue));
    // The default pool is today's worker and queue.
    expect(props(squall.worker).Environment.Variables.SQUALL_TASK_QUEUE_URL).toEqual(ref(squall.tasks.queue));
    expect(props(squall.worker).MemorySize).toBe(1024);
  });

  it("has a task queue hiding messages six times its worker's timeout, and a dead-letter queue after 10 deliveries", () => {
    expect(resources[logicalId(large.tasks.queue)]?.Properties).toEqual({
      SqsManagedSseEnabled: true,
      VisibilityTimeout: 3600,
      RedrivePolicy: { deadLetterTargetArn: arn(large.tasks.deadLetterQueue), maxReceiveCount: 10 },
    });
    // Its dead letters are kept 14 days, hidden six times the coordinator's timeout once taken.
    expect(resources[logicalId(large.tasks.deadLetterQueue)]?.Properties).toEqual({
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 1209600,
      VisibilityTimeout: 360,
    });
  });

  it("is fed by an event source with the pool's batch, window and MaximumConcurrency, reporting partial failures", () => {
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      EventSourceArn: arn(large.tasks.queue),
      FunctionName: ref(large.worker.function),
      BatchSize: 1,
      MaximumBatchingWindowInSeconds: 0,
      ScalingConfig: { MaximumConcurrency: 20 },
      FunctionResponseTypes: ["ReportBatchItemFailures"],
    });
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      EventSourceArn: arn(ioBound.tasks.queue),
      FunctionName: ref(ioBound.worker.function),
      BatchSize: 10,
      MaximumBatchingWindowInSeconds: 2,
      ScalingConfig: { MaximumConcurrency: 100 },
      FunctionResponseTypes: ["ReportBatchItemFailures"],
    });
  });

  it("dead-letters to the one coordinator, which takes every pool's dead letters and knows their queues", () => {
    for (const tasks of [squall.tasks, large.tasks, ioBound.tasks]) {
      template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
        EventSourceArn: arn(tasks.deadLetterQueue),
        FunctionName: ref(squall.coordinator.function),
        ScalingConfig: { MaximumConcurrency: 2 },
        FunctionResponseTypes: ["ReportBatchItemFailures"],
      });
    }
    const mappings = Object.values(resources as Record<string, { Type: string }>).filter(
      (r) => r.Type === "AWS::Lambda::EventSourceMapping",
    );
    // Three task queues, three dead-letter queues, completions, the flow queue and its dead letters.
    expect(mappings).toHaveLength(9);
    expect(joined(props(squall.coordinator).Environment.Variables.SQUALL_DEAD_LETTER_QUEUE_ARN)).toBe(
      [squall.tasks, large.tasks, ioBound.tasks].map((tasks) => arnText(tasks.deadLetterQueue)).join(","),
    );
  });
});

describe("a worker pool's grants", () => {
  type Statement = { Action: string | string[]; Resource: unknown };
  const grants = (fn: SquallFunction) => {
    const role = logicalId(fn.grantPrincipal as Role);
    const map: Record<string, unknown[]> = {};
    for (const r of Object.values(template.findResources("AWS::IAM::Policy"))) {
      if (!r.Properties.Roles.some((x: { Ref: string }) => x.Ref === role)) continue;
      for (const { Action, Resource } of r.Properties.PolicyDocument.Statement as Statement[]) {
        for (const action of [Action].flat()) map[action] = [...(map[action] ?? []), Resource];
      }
    }
    return map;
  };
  /** What a worker is granted, with `queue` for its task queue. */
  const asWorker = (queue: Queue) => {
    const objects = { "Fn::Join": ["", [arn(squall.results.bucket), "/runs/*"]] };
    const keys = { "Fn::Join": ["", [arn(squall.results.bucket), "/keys/*"]] };
    return {
      "s3:GetObject": [objects, keys],
      "s3:PutObject": [objects],
      "s3:AbortMultipartUpload": [objects],
      "s3:ListBucket": [arn(squall.results.bucket)],
      "sqs:ReceiveMessage": [arn(queue)],
      "sqs:ChangeMessageVisibility": [arn(queue)],
      "sqs:DeleteMessage": [arn(queue)],
      // Granted with consuming its queue, and with sending to it and to the completion queue.
      "sqs:GetQueueAttributes": [arn(queue), arn(squall.completions.queue)],
      "sqs:GetQueueUrl": [arn(queue), arn(squall.completions.queue)],
      "sqs:SendMessage": [arn(queue), arn(squall.completions.queue)],
    };
  };

  it("give each pool's worker what the default worker has, on its own queue only", () => {
    for (const [fn, queue] of [
      [squall.worker, squall.tasks.queue],
      [large.worker, large.tasks.queue],
      [ioBound.worker, ioBound.tasks.queue],
    ] as const) {
      const { "logs:CreateLogStream": _, "logs:PutLogEvents": __, ...rest } = grants(fn);
      const expected = asWorker(queue);
      expect(Object.keys(rest).sort()).toEqual(Object.keys(expected).sort());
      for (const [action, on] of Object.entries(expected)) {
        const distinct = (list: unknown[] = []) => [...new Set(list.map((x) => JSON.stringify(x)))].sort();
        expect(distinct(rest[action]), `${fn.node.id} ${action}`).toEqual(distinct(on));
      }
    }
  });

  it("let the coordinator consume every pool's dead letters, and the flow-runner send to every pool's queue", () => {
    const coordinator = grants(squall.coordinator);
    expect(coordinator["sqs:ReceiveMessage"]).toEqual([
      arn(squall.completions.queue),
      arn(squall.tasks.deadLetterQueue),
      arn(large.tasks.deadLetterQueue),
      arn(ioBound.tasks.deadLetterQueue),
      arn(squall.flowQueue.deadLetterQueue),
    ]);
    expect(coordinator["sqs:SendMessage"]).toEqual([arn(squall.flowQueue.queue)]);
    expect(grants(squall.flowRunner)["sqs:SendMessage"]).toEqual([
      arn(squall.tasks.queue),
      arn(large.tasks.queue),
      arn(ioBound.tasks.queue),
      arn(squall.completions.queue),
      arn(squall.flowQueue.queue),
    ]);
  });

  it("let a caller send to every pool's queue", () => {
    const policy = resources[logicalId(squall.callerPolicy.policy)]?.Properties;
    expect(policy.PolicyDocument.Statement[0]).toEqual({
      Sid: "SendTaskRuns",
      Effect: "Allow",
      Action: "sqs:SendMessage",
      Resource: [
        arn(squall.tasks.queue),
        arn(large.tasks.queue),
        arn(ioBound.tasks.queue),
        arn(squall.completions.queue),
      ],
    });
  });
});

describe("what callers learn of the pools", () => {
  it("is one output a pool, `Pool` and its name, holding its name, queue and worker timeout as JSON", () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    const pools = Object.keys(outputs).filter((key) => key.startsWith("Pool"));
    expect(pools).toEqual(["PoolLarge", "PoolIoBound"]);
    expect(JSON.parse(joined(outputs.PoolLarge?.Value))).toEqual({
      name: "large",
      taskQueueUrl: refText(large.tasks.queue),
      workerTimeoutSeconds: 600,
    });
    expect(JSON.parse(joined(outputs.PoolIoBound?.Value))).toEqual({
      name: "io-bound",
      taskQueueUrl: refText(ioBound.tasks.queue),
      workerTimeoutSeconds: 60,
    });
  });

  it("is SQUALL_POOLS in the flow-runner's environment, which its LambdaTaskRunner reads", () => {
    const env = props(squall.flowRunner).Environment.Variables;
    const text = joined(env.SQUALL_POOLS);
    const address = addressFromEnv({
      SQUALL_TASK_QUEUE_URL: "https://tasks",
      SQUALL_COMPLETION_QUEUE_URL: "https://completions",
      SQUALL_BUCKET: "bucket",
      SQUALL_POOLS: text,
    });
    expect(address?.pools).toEqual({
      large: { taskQueueUrl: refText(large.tasks.queue), workerTimeoutSeconds: 600 },
      "io-bound": { taskQueueUrl: refText(ioBound.tasks.queue), workerTimeoutSeconds: 60 },
    });
    expect(props(squall.worker).Environment.Variables.SQUALL_POOLS).toBeUndefined();
  });

  it("is nothing more when the stack has no pools", () => {
    const { squall: plain, template: plainTemplate } = templateOf();
    const outputs = Object.keys(plainTemplate.toJSON().Outputs);
    expect(outputs.filter((key) => key.startsWith("Pool"))).toEqual([]);
    expect(plain.pools.size).toBe(0);
    const fr = plainTemplate.toJSON().Resources[logicalId(plain.flowRunner.function)].Properties;
    expect(fr.Environment.Variables.SQUALL_POOLS).toBeUndefined();
  });
});

describe("pools refused at synth", () => {
  it("refuses a name that cannot name resources, or the default pool's", () => {
    for (const name of ["Large", "default", "1st", "a_b", "x".repeat(33)]) {
      expect(() => templateOf({ pools: { [name]: {} } })).toThrow(
        `Expected each of \`pools\` to be named with lowercase letters, digits and \`-\`, starting with a letter, up to 32, and not \`default\` (the default pool's name), got \`${name}\``,
      );
    }
  });

  it("refuses two names that would name one output", () => {
    expect(() => templateOf({ pools: { "gpu-1": {}, gpu1: {} } })).toThrow(
      "Expected `pools` names that differ by more than their `-`, got `gpu-1` and `gpu1`: both would name the output PoolGpu1.",
    );
  });

  it("refuses more than 10", () => {
    const pools = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`p${i}`, {}]));
    expect(() => templateOf({ pools })).toThrow(
      "Expected at most 10 `pools`, got 11: each adds to the flow-runner's environment, which Lambda caps at 4 KB.",
    );
  });
});
