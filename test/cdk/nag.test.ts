// The AwsSolutions rule pack on the stack: nothing left unexplained. Suppressions are few, each
// with its reason in the construct that owns the resource; this lists them so that a new one is
// a visible change.
import { Aspects, RemovalPolicy, Stack } from "aws-cdk-lib";
import { Annotations, Match, Template } from "aws-cdk-lib/assertions";
import { Vpc } from "aws-cdk-lib/aws-ec2";
import { AwsSolutionsChecks } from "cdk-nag";
import { describe, expect, it } from "vitest";
import { squallStack } from "./stack.js";

function checked(props: Parameters<typeof squallStack>[0] = {}) {
  const stack = squallStack(props);
  Aspects.of(stack).add(new AwsSolutionsChecks());
  return { annotations: Annotations.fromStack(stack), template: Template.fromStack(stack) };
}

/** `{ "<rule>": ["<appliesTo>", ...] }` of every suppression in the template. */
function suppressions(template: Template): Record<string, string[]> {
  const found: Record<string, string[]> = {};
  type Rule = { id: string; applies_to?: (string | { regex: string })[] };
  type Resource = { Metadata?: { cdk_nag?: { rules_to_suppress?: Rule[] } } };
  for (const resource of Object.values(template.toJSON().Resources) as Resource[]) {
    const rules = resource.Metadata?.cdk_nag?.rules_to_suppress ?? [];
    for (const rule of rules) {
      const applies = (rule.applies_to ?? []).map((item) =>
        typeof item === "string" ? item : `regex ${item.regex}`,
      );
      found[rule.id] = [...(found[rule.id] ?? []), ...applies];
    }
  }
  return found;
}

const AWS_SOLUTIONS = Match.stringLikeRegexp("AwsSolutions-.*");

describe("the AwsSolutions rule pack", () => {
  it("finds no error or warning that is not suppressed with a reason", () => {
    const { annotations } = checked();
    expect(annotations.findError("*", AWS_SOLUTIONS)).toEqual([]);
    expect(annotations.findWarning("*", AWS_SOLUTIONS)).toEqual([]);
  });

  it("has only these suppressions: no access logs, object access under runs/, keys/ and open/, and the caller's DescribeStacks on its own stack", () => {
    const found = suppressions(checked().template);
    expect(Object.keys(found).sort()).toEqual(["AwsSolutions-IAM5", "AwsSolutions-S1"]);
    const bucket = /<SquallResultsBucket[0-9A-F]{8}\.Arn>/.source;
    expect([...new Set(found["AwsSolutions-IAM5"])].sort()).toEqual([
      expect.stringMatching(new RegExp(`^Resource::${bucket}/keys/\\*$`)),
      expect.stringMatching(new RegExp(`^Resource::${bucket}/open/\\*$`)),
      expect.stringMatching(new RegExp(`^Resource::${bucket}/runs/\\*$`)),
      "regex /^Resource::arn:.+:cloudformation:.+:stack\\/[^/]+\\/\\*$/g",
    ]);
  });

  it("finds nothing unsuppressed when the worker runs in a VPC, the network-interface actions answered", () => {
    const stack = squallStack({}, (app) => {
      const network = new Stack(app, "Network");
      return { worker: { vpc: new Vpc(network, "Vpc", { maxAzs: 2, natGateways: 1 }) } };
    });
    Aspects.of(stack).add(new AwsSolutionsChecks());
    const annotations = Annotations.fromStack(stack);
    expect(annotations.findError("*", AWS_SOLUTIONS)).toEqual([]);
    expect(annotations.findWarning("*", AWS_SOLUTIONS)).toEqual([]);
    expect(suppressions(Template.fromStack(stack))["AwsSolutions-IAM5"]).toContain("Resource::*");
  });

  it("finds nothing unsuppressed when the stack destroys its bucket either", () => {
    const { annotations } = checked({ removalPolicy: RemovalPolicy.DESTROY });
    expect(annotations.findError("*", AWS_SOLUTIONS)).toEqual([]);
    expect(annotations.findWarning("*", AWS_SOLUTIONS)).toEqual([]);
  });

  it("finds nothing unsuppressed with worker pools, and no suppression beyond the stack's own", () => {
    const pools = { large: { memorySize: 6144 }, "io-bound": { maxConcurrency: 5 } };
    const { annotations, template } = checked({ pools });
    // The worker, the coordinator, the flow-runner, and a worker for each pool.
    expect(Object.keys(template.findResources("AWS::Lambda::Function"))).toHaveLength(5);
    expect(annotations.findError("*", AWS_SOLUTIONS)).toEqual([]);
    expect(annotations.findWarning("*", AWS_SOLUTIONS)).toEqual([]);
    const withPools = suppressions(template);
    const without = suppressions(checked().template);
    expect(Object.keys(withPools).sort()).toEqual(Object.keys(without).sort());
    expect([...new Set(withPools["AwsSolutions-IAM5"])].sort()).toEqual(
      [...new Set(without["AwsSolutions-IAM5"])].sort(),
    );
  });

  it("finds nothing unsuppressed with schedules, and no suppression beyond the stack's own", () => {
    const schedules = [
      { name: "nightly", flow: "greetings", cron: "0 2 * * *", timezone: "Europe/Paris" },
      { name: "often", flow: "greetings", rate: "5 minutes", enabled: false },
    ];
    const { annotations, template } = checked({ schedules });
    expect(Object.keys(template.findResources("AWS::Scheduler::Schedule"))).toHaveLength(2);
    expect(annotations.findError("*", AWS_SOLUTIONS)).toEqual([]);
    expect(annotations.findWarning("*", AWS_SOLUTIONS)).toEqual([]);
    expect(suppressions(template)).toEqual(suppressions(checked().template));
  });
});
