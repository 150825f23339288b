// The stack's tagLimits: the worker's variables, its leave on the lease prefix, and nothing more.
import { Aspects, Duration } from "aws-cdk-lib";
import { Annotations, Match, Template } from "aws-cdk-lib/assertions";
import type { Role } from "aws-cdk-lib/aws-iam";
import { AwsSolutionsChecks } from "cdk-nag";
import { describe, expect, it } from "vitest";
import type { SquallFunction } from "../../cdk/constructs/squall-function.js";
import { arn, logicalId, squallStack, templateOf } from "./stack.js";

type Statement = { Action: string | string[]; Resource: unknown };

/** The worker's grants as `{ action: [resources] }`. */
function workerGrants(template: Template, role: string): Record<string, unknown[]> {
  const map: Record<string, unknown[]> = {};
  for (const policy of Object.values(template.findResources("AWS::IAM::Policy"))) {
    if (!policy.Properties.Roles.some((r: { Ref: string }) => r.Ref === role)) continue;
    for (const { Action, Resource } of policy.Properties.PolicyDocument.Statement as Statement[]) {
      for (const action of [Action].flat()) map[action] = [...(map[action] ?? []), Resource];
    }
  }
  return map;
}

describe("the stack's tagLimits", () => {
  it("give the worker the limits and a lease life of its timeout plus 30 s, and leave to create and delete leases", () => {
    const { squall, template } = templateOf({ tagLimits: { db: 5, "eu api": 2 } });
    template.hasResourceProperties("AWS::Lambda::Function", {
      Environment: {
        Variables: Match.objectLike({
          SQUALL_TAG_LIMITS: '{"db":5,"eu api":2}',
          SQUALL_TAG_LEASE_SECONDS: "90",
        }),
      },
    });
    const leases = { "Fn::Join": ["", [arn(squall.results.bucket), "/leases/*"]] };
    const worker = workerGrants(template, logicalId(squall.worker.grantPrincipal as Role));
    expect(worker["s3:PutObject"]).toContainEqual(leases);
    expect(worker["s3:DeleteObject"]).toEqual([leases]);
    for (const fn of [squall.coordinator, squall.flowRunner]) {
      const grants = workerGrants(template, logicalId(fn.grantPrincipal as Role));
      expect(JSON.stringify(grants)).not.toContain("/leases/");
    }
  });

  it("give every worker pool's worker the limits, a lease life of the longest worker timeout plus 30 s, and the leases", () => {
    const { squall, template } = templateOf({
      tagLimits: { db: 5 },
      pools: { large: { timeout: Duration.minutes(10) } },
    });
    const variables = (fn: SquallFunction) =>
      template.toJSON().Resources[logicalId(fn.function)].Properties.Environment.Variables;
    const large = squall.pools.get("large")?.worker as SquallFunction;
    for (const fn of [squall.worker, large]) {
      expect(variables(fn)).toMatchObject({ SQUALL_TAG_LIMITS: '{"db":5}', SQUALL_TAG_LEASE_SECONDS: "630" });
    }
    const leases = { "Fn::Join": ["", [arn(squall.results.bucket), "/leases/*"]] };
    const grants = workerGrants(template, logicalId(large.grantPrincipal as Role));
    expect(grants["s3:DeleteObject"]).toEqual([leases]);
  });

  it("grant nothing on leases and set no variable when no limit is set", () => {
    const { squall, template } = templateOf();
    const worker = workerGrants(template, logicalId(squall.worker.grantPrincipal as Role));
    expect(JSON.stringify(worker)).not.toContain("/leases/");
    expect(JSON.stringify(template.toJSON())).not.toContain("SQUALL_TAG_LIMITS");
  });

  it("leave the rule pack nothing unsuppressed, the lease prefix explained", () => {
    const stack = squallStack({ tagLimits: { db: 5 } });
    Aspects.of(stack).add(new AwsSolutionsChecks());
    const annotations = Annotations.fromStack(stack);
    const rules = Match.stringLikeRegexp("AwsSolutions-.*");
    expect(annotations.findError("*", rules)).toEqual([]);
    expect(annotations.findWarning("*", rules)).toEqual([]);
    expect(JSON.stringify(Template.fromStack(stack).toJSON())).toContain("/leases/*");
  });

  it("refuse bad limits at synth, saying which", () => {
    expect(() => squallStack({ tagLimits: { db: 0 } })).toThrow(
      "Expected `tagLimits.db` to be an integer >= 1, got `0`",
    );
  });
});
