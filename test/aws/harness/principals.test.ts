import { describe, expect, it } from "vitest";
import type { ResolveContext } from "./intrinsics.js";
import { callerStatements, newCredentials } from "./principals.js";
import { type CfnTemplate, parseStackTemplate } from "./template.js";

const context: ResolveContext = {
  resources: new Map([["Bucket", { ref: "b", attributes: { Arn: "arn:aws:s3:::b" } }]]),
  pseudo: {},
};
const fallback = {
  Statement: [
    { Effect: "Allow" as const, Action: "s3:GetObject", Resource: { "Fn::GetAtt": ["Bucket", "Arn"] } },
  ],
};
const stackOf = (resources: CfnTemplate["Resources"]) =>
  parseStackTemplate({ Resources: resources }, "Test", () => "/code");

describe("the laptop caller's rights", () => {
  it("come from the template's managed policy named SquallCaller when it has one", () => {
    const stack = stackOf({
      SquallCaller0A1B2C3D: {
        Type: "AWS::IAM::ManagedPolicy",
        Properties: {
          ManagedPolicyName: "SquallCaller",
          PolicyDocument: {
            Statement: [{ Effect: "Allow", Action: "s3:PutObject", Resource: "arn:aws:s3:::b/runs/*" }],
          },
        },
      },
    });

    const caller = callerStatements(stack, context, fallback);

    expect(caller.source).toBe("the template's managed policy SquallCaller0A1B2C3D");
    expect(caller.statements.map((s) => [s.actions, s.resources])).toEqual([
      [["s3:PutObject"], ["arn:aws:s3:::b/runs/*"]],
    ]);
  });

  it("come from the test's policy otherwise, its references to the template resolved", () => {
    const caller = callerStatements(stackOf({}), context, fallback);

    expect(caller.source).toMatch(/^the test's caller policy/);
    expect(caller.statements.map((s) => [s.actions, s.resources])).toEqual([
      [["s3:GetObject"], ["arn:aws:s3:::b"]],
    ]);
    expect(() => callerStatements(stackOf({}), context, undefined)).toThrow(
      /give the harness a callerPolicy/,
    );
  });

  it("sign with keys of their own, temporary for roles (ASIA with a session token), long-term for callers", () => {
    const role = newCredentials();
    const caller = newCredentials("AKIA");
    expect(role.accessKeyId).toMatch(/^ASIA[A-Z2-7]{16}$/);
    expect(role.sessionToken).toBeDefined();
    expect(caller.accessKeyId).toMatch(/^AKIA[A-Z2-7]{16}$/);
    expect(caller.sessionToken).toBeUndefined();
    expect(newCredentials().accessKeyId).not.toBe(role.accessKeyId);
  });
});
