// What a stack's user configures on squall's functions: variables for their tasks, how the flows
// module is bundled, layers, a VPC, /tmp and reserved concurrency.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { App, Duration, Size, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { SecurityGroup, SubnetType, Vpc } from "aws-cdk-lib/aws-ec2";
import { LayerVersion } from "aws-cdk-lib/aws-lambda";
import { SquallStack } from "squall/cdk";
import { describe, expect, it } from "vitest";
import type { SquallFunction } from "../../cdk/constructs/squall-function.js";
import { logicalId, ROOT, templateOf } from "./stack.js";

const props = (template: Template, fn: SquallFunction) =>
  template.toJSON().Resources[logicalId(fn.function)].Properties;

describe("the functions' settings", () => {
  it("give the worker and the flow-runner the user's variables beside squall's, and the coordinator none", () => {
    const { squall, template } = templateOf({
      environment: { TABLE_NAME: "orders", AWS_NODEJS_CONNECTION_REUSE_ENABLED: "1" },
    });
    for (const fn of [squall.worker, squall.flowRunner]) {
      expect(props(template, fn).Environment.Variables).toMatchObject({
        TABLE_NAME: "orders",
        AWS_NODEJS_CONNECTION_REUSE_ENABLED: "1",
        SQUALL_BUCKET: expect.anything(),
      });
    }
    expect(props(template, squall.coordinator).Environment.Variables.TABLE_NAME).toBeUndefined();
  });

  it("refuse variables squall or Lambda set, naming them", () => {
    expect(() =>
      templateOf({ environment: { SQUALL_BUCKET: "mine", AWS_REGION: "x", TZ: "UTC", OK: "1" } }),
    ).toThrow(
      "Expected `environment` to leave out the variables squall and Lambda set, got `SQUALL_BUCKET`, `AWS_REGION`, `TZ`: rename them (SQUALL_* are squall's; Lambda reserves AWS_REGION, AWS_LAMBDA_*, the credentials' variables, _HANDLER, LAMBDA_TASK_ROOT, TZ and a few more).",
    );
  });

  it("put the worker in a VPC with its layers, /tmp and reserved concurrency, and let it manage its network interfaces", () => {
    const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
    const network = new Stack(app, "Network");
    const vpc = new Vpc(network, "Vpc", { maxAzs: 2, natGateways: 1 });
    const group = new SecurityGroup(network, "Tasks", { vpc });
    const layer = LayerVersion.fromLayerVersionArn(
      network,
      "Sharp",
      "arn:aws:lambda:eu-west-1:123456789012:layer:sharp:3",
    );
    const stack = new SquallStack(app, "Squall", {
      flows: "examples/flows.ts",
      projectRoot: ROOT,
      worker: {
        layers: [layer],
        vpc,
        vpcSubnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
        securityGroups: [group],
        ephemeralStorageSize: Size.gibibytes(4),
        reservedConcurrentExecutions: 50,
        memorySize: 4096,
        timeout: Duration.minutes(5),
      },
    });
    const template = Template.fromStack(stack);
    const worker = props(template, stack.squall.worker);
    expect(worker.Layers).toEqual(["arn:aws:lambda:eu-west-1:123456789012:layer:sharp:3"]);
    expect(worker.VpcConfig.SubnetIds).toHaveLength(2);
    expect(worker.VpcConfig.SecurityGroupIds).toHaveLength(1);
    expect(worker.EphemeralStorage).toEqual({ Size: 4096 });
    expect(worker.ReservedConcurrentExecutions).toBe(50);
    expect(props(template, stack.squall.coordinator).VpcConfig).toBeUndefined();
    const statements = Object.values(
      template.toJSON().Resources as Record<
        string,
        {
          Type: string;
          Properties: {
            PolicyDocument?: { Statement: { Sid?: string; Action: string[]; Resource: string }[] };
            Roles?: unknown[];
          };
        }
      >,
    )
      .filter((resource) => resource.Type === "AWS::IAM::Policy")
      .flatMap((policy) => policy.Properties.PolicyDocument?.Statement ?? []);
    expect(statements.filter((statement) => statement.Sid === "NetworkInterfacesInVpc")).toEqual([
      {
        Sid: "NetworkInterfacesInVpc",
        Effect: "Allow",
        Action: [
          "ec2:CreateNetworkInterface",
          "ec2:DescribeNetworkInterfaces",
          "ec2:DescribeSubnets",
          "ec2:DeleteNetworkInterface",
          "ec2:AssignPrivateIpAddresses",
          "ec2:UnassignPrivateIpAddresses",
        ],
        Resource: "*",
      },
    ]);
  });

  it("bundle the flows module with the user's define and external modules, into the worker and the flow-runner", () => {
    const app = new App({
      outdir: join(ROOT, "cdk.out", ".test-function-settings"),
      context: { "aws:cdk:enable-asset-metadata": true },
    });
    const stack = new SquallStack(app, "Squall", {
      flows: "test/fixtures/bundling-flows.ts",
      projectRoot: ROOT,
      bundling: {
        define: { SQUALL_TEST_BUILD: JSON.stringify("build-42") },
        externalModules: ["squall-test-layer-package"],
      },
    });
    const assembly = app.synth();
    const template = assembly.getStackByName("Squall").template as {
      Resources: Record<string, { Metadata?: Record<string, string> }>;
    };
    const bundleOf = (fn: SquallFunction) => {
      const asset = template.Resources[logicalId(fn.function)]?.Metadata?.["aws:asset:path"] as string;
      const dir = join(assembly.directory, asset);
      const file = readdirSync(dir).find((name) => name.endsWith(".mjs")) as string;
      return readFileSync(join(dir, file), "utf8");
    };
    for (const fn of [stack.squall.worker, stack.squall.flowRunner]) {
      const bundle = bundleOf(fn);
      expect(bundle).toContain('return "build-42";');
      expect(bundle).not.toContain("SQUALL_TEST_BUILD");
      expect(bundle).toContain('import("squall-test-layer-package")');
    }
  });
});
