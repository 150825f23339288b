import { describe, expect, it } from "vitest";
import { decide, resolvedStatement, wildcardMatches } from "./iam-policy.js";
import type { PolicyStatement } from "./template.js";

const statements = (...list: PolicyStatement[]) => list.map((s) => resolvedStatement(s, "test"));

describe("IAM's evaluation of identity policies", () => {
  it("allows only what a statement allows, actions without regard to case, resources with wildcards", () => {
    const policy = statements(
      { Effect: "Allow", Action: ["s3:GetObject", "S3:putobject"], Resource: "arn:aws:s3:::b/runs/*" },
      { Effect: "Allow", Action: "sqs:Send*", Resource: "arn:aws:sqs:us-east-1:000000000000:tasks-??" },
    );

    expect(decide(policy, "s3:GetObject", "arn:aws:s3:::b/runs/x/summary")).toEqual({ allowed: true });
    expect(decide(policy, "s3:PutObject", "arn:aws:s3:::b/runs/x")).toEqual({ allowed: true });
    expect(decide(policy, "s3:GetObject", "arn:aws:s3:::b/keys/x")).toEqual({
      allowed: false,
      why: "no allow",
    });
    expect(decide(policy, "s3:GetObject", "arn:aws:s3:::B/runs/x")).toEqual({
      allowed: false,
      why: "no allow",
    });
    expect(decide(policy, "s3:ListBucket", "arn:aws:s3:::b")).toEqual({ allowed: false, why: "no allow" });
    expect(decide(policy, "sqs:SendMessage", "arn:aws:sqs:us-east-1:000000000000:tasks-01")).toEqual({
      allowed: true,
    });
    expect(decide(policy, "sqs:SendMessage", "arn:aws:sqs:us-east-1:000000000000:tasks-001").allowed).toBe(
      false,
    );
  });

  it("lets an explicit Deny win, reads NotAction and NotResource, and never applies a statement with a Condition", () => {
    const policy = statements(
      { Effect: "Allow", NotAction: "iam:*", Resource: "*" },
      { Effect: "Deny", Action: "s3:DeleteObject", NotResource: "arn:aws:s3:::b/tmp/*" },
      {
        Effect: "Allow",
        Action: "kms:Decrypt",
        Resource: "*",
        Condition: { Bool: { "aws:SecureTransport": "true" } },
      },
      {
        Effect: "Deny",
        Action: "s3:*",
        Resource: "*",
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      },
    );

    expect(decide(policy, "s3:GetObject", "arn:aws:s3:::b/x")).toEqual({ allowed: true });
    expect(decide(policy, "iam:PassRole", "*").allowed).toBe(false);
    expect(decide(policy, "s3:DeleteObject", "arn:aws:s3:::b/x")).toEqual({
      allowed: false,
      why: "explicit deny",
      policy: "test",
    });
    expect(decide(policy, "s3:DeleteObject", "arn:aws:s3:::b/tmp/x")).toEqual({ allowed: true });
    // The Allow of kms:Decrypt has a Condition: it does not apply on its own.
    expect(decide(policy.slice(2, 3), "kms:Decrypt", "*").allowed).toBe(false);
  });

  it("matches * across any characters and ? one, and nothing else specially", () => {
    expect(wildcardMatches("arn:aws:s3:::b/*", "arn:aws:s3:::b/a/b/c")).toBe(true);
    expect(wildcardMatches("a.c", "abc")).toBe(false);
    expect(wildcardMatches("a?c", "abc")).toBe(true);
    expect(wildcardMatches("(x)+", "(x)+")).toBe(true);
  });
});
