// A cloud assembly written by a test, for limits the repository's stack cannot show (a function
// answering 7 MB, one that always fails): a template with functions whose code is
// test/aws/fixtures/functions, laid out as cdk synth lays out assets.
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { CfnResource, CfnTemplate } from "../harness/template.js";

const FUNCTIONS = fileURLToPath(new URL("../fixtures/functions", import.meta.url));

export interface SyntheticFunction {
  /** An export of test/aws/fixtures/functions/index.mjs. */
  readonly handler: string;
  readonly timeoutSeconds?: number;
  readonly memoryMb?: number;
  /** Its AWS::Lambda::EventInvokeConfig's MaximumRetryAttempts, if it has one. */
  readonly maximumRetryAttempts?: number;
}

/**
 * Writes `<dir>/<stackName>.template.json` and the functions' asset; `remove()` deletes it all.
 * The functions share one role, `Role`; `resources` adds any others (queues, mappings, policies).
 */
export function writeSyntheticStack(
  stackName: string,
  functions: Readonly<Record<string, SyntheticFunction>>,
  resources: Readonly<Record<string, CfnResource>> = {},
): { cloudAssembly: string; remove(): void } {
  const cloudAssembly = mkdtempSync(join(tmpdir(), "squall-aws-synthetic-"));
  cpSync(FUNCTIONS, join(cloudAssembly, "asset.functions"), { recursive: true });
  const all: Record<string, CfnResource> = {
    ...resources,
    Role: {
      Type: "AWS::IAM::Role",
      Properties: {
        AssumeRolePolicyDocument: {
          Statement: [
            { Action: "sts:AssumeRole", Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" } },
          ],
        },
      },
    },
  };
  for (const [logicalId, fn] of Object.entries(functions)) {
    all[logicalId] = {
      Type: "AWS::Lambda::Function",
      Properties: {
        Code: { S3Bucket: "assets", S3Key: "functions.zip" },
        Handler: `index.${fn.handler}`,
        Runtime: "nodejs24.x",
        Role: { "Fn::GetAtt": ["Role", "Arn"] },
        ...(fn.timeoutSeconds !== undefined && { Timeout: fn.timeoutSeconds }),
        ...(fn.memoryMb !== undefined && { MemorySize: fn.memoryMb }),
      },
      Metadata: { "aws:asset:path": "asset.functions", "aws:asset:property": "Code" },
    };
    if (fn.maximumRetryAttempts !== undefined) {
      all[`${logicalId}InvokeConfig`] = {
        Type: "AWS::Lambda::EventInvokeConfig",
        Properties: {
          FunctionName: { Ref: logicalId },
          Qualifier: "$LATEST",
          MaximumRetryAttempts: fn.maximumRetryAttempts,
        },
      };
    }
  }
  const template: CfnTemplate = { Resources: all };
  writeFileSync(join(cloudAssembly, `${stackName}.template.json`), JSON.stringify(template, null, 1));
  return { cloudAssembly, remove: () => rmSync(cloudAssembly, { recursive: true, force: true }) };
}
