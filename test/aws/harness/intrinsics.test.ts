import { describe, expect, it } from "vitest";
import { type ResolveContext, resolve, resolveString } from "./intrinsics.js";

const context: ResolveContext = {
  resources: new Map([
    [
      "Queue",
      {
        ref: "http://127.0.0.1:1/000000000000/q",
        attributes: { Arn: "arn:aws:sqs:us-east-1:000000000000:q" },
      },
    ],
    ["Bucket", { ref: "b", attributes: { Arn: "arn:aws:s3:::b" } }],
  ]),
  pseudo: { "AWS::Region": "us-east-1", "AWS::AccountId": "000000000000" },
};

describe("resolving a template's intrinsics", () => {
  it("resolves Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select and Fn::Split, nested", () => {
    expect(resolve({ Ref: "Queue" }, context)).toBe("http://127.0.0.1:1/000000000000/q");
    expect(resolve({ "Fn::GetAtt": ["Bucket", "Arn"] }, context)).toBe("arn:aws:s3:::b");
    expect(resolve({ "Fn::GetAtt": "Bucket.Arn" }, context)).toBe("arn:aws:s3:::b");
    expect(resolve({ "Fn::Join": ["", [{ "Fn::GetAtt": ["Bucket", "Arn"] }, "/runs/*"]] }, context)).toBe(
      "arn:aws:s3:::b/runs/*",
    );
    expect(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Fn::Sub's own placeholders
      resolve({ "Fn::Sub": "cdk-${AWS::AccountId}-${AWS::Region}-${Bucket}-${Bucket.Arn}" }, context),
    ).toBe("cdk-000000000000-us-east-1-b-arn:aws:s3:::b");
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Fn::Sub's own placeholders
    expect(resolve({ "Fn::Sub": ["${x}/${Bucket}", { x: { Ref: "AWS::Region" } }] }, context)).toBe(
      "us-east-1/b",
    );
    expect(
      resolve({ "Fn::Select": [1, { "Fn::Split": [":", { "Fn::GetAtt": ["Queue", "Arn"] }] }] }, context),
    ).toBe("aws");
    expect(resolve({ Statement: [{ Resource: [{ Ref: "Bucket" }, "*"] }] }, context)).toEqual({
      Statement: [{ Resource: ["b", "*"] }],
    });
  });

  it("says what it cannot resolve", () => {
    expect(() => resolve({ Ref: "Missing" }, context)).toThrow(
      "Ref to Missing, which the harness did not create",
    );
    expect(() => resolve({ "Fn::GetAtt": ["Bucket", "WebsiteURL"] }, context)).toThrow(/Bucket.WebsiteURL/);
    expect(() => resolve({ "Fn::ImportValue": "x" }, context)).toThrow(
      "The harness cannot resolve Fn::ImportValue",
    );
    expect(() => resolveString({ "Fn::Split": [",", "a,b"] }, context)).toThrow(/to resolve to a string/);
  });
});
