// Builds the repository's stack as cdk/app.ts does, without bundling (esbuild is left to the
// one CLI synth test), for template assertions and the rule pack.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { App, type CfnElement, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import type { IConstruct } from "constructs";
import { SquallStack, type SquallStackProps } from "squall/cdk";
import { afterAll } from "vitest";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** Where CDK's caches go in this repository (gitignored), as `npm run synth` puts them. */
const CDK_HOME = join(ROOT, ".cdk-home");

/**
 * Where the test file's apps write their cloud assemblies (an App with no outdir makes a folder of
 * its own in the temp folder and leaves it there), removed after the file's tests.
 */
const OUT = mkdtempSync(join(tmpdir(), "squall-cdk-test-"));
afterAll(() => rmSync(OUT, { recursive: true, force: true }));
let apps = 0;

/** The stack, with `more` props that need the app (a VPC of another stack, say). */
export function squallStack(
  props: Partial<SquallStackProps> = {},
  more?: (app: App) => Partial<SquallStackProps>,
): SquallStack {
  apps += 1;
  const app = new App({ outdir: join(OUT, String(apps)), context: { "aws:cdk:bundling-stacks": [] } });
  props = { ...props, ...more?.(app) };
  // aws-cdk-lib caches asset fingerprints under os.homedir()/.cdk (a DESTROY bucket's
  // auto-delete provider is such an asset) while constructing: not in the user's home.
  const home = process.env.HOME;
  process.env.HOME = CDK_HOME;
  try {
    return new SquallStack(app, "Squall", { flows: "examples/flows.ts", projectRoot: ROOT, ...props });
  } finally {
    process.env.HOME = home;
  }
}

export function templateOf(props: Partial<SquallStackProps> = {}) {
  const stack = squallStack(props);
  return { stack, squall: stack.squall, template: Template.fromStack(stack) };
}

/** The logical id of a construct's CloudFormation resource. */
export function logicalId(construct: IConstruct): string {
  const resource = construct.node.defaultChild;
  if (!resource) throw new Error(`${construct.node.path} has no CloudFormation resource`);
  return Stack.of(construct).getLogicalId(resource as CfnElement);
}

export const ref = (construct: IConstruct) => ({ Ref: logicalId(construct) });
export const arn = (construct: IConstruct) => ({ "Fn::GetAtt": [logicalId(construct), "Arn"] });
