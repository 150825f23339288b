// The thumbnails example's stack (examples/thumbnails/stack.ts): its pool `large` with more
// memory, sharp installed beside the bundle for Lambda's platform, and the one grant the example
// adds to squall's, putting thumbnails/ in the stack's bucket.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, Aspects } from "aws-cdk-lib";
import { Annotations, Match, Template } from "aws-cdk-lib/assertions";
import type { Role } from "aws-cdk-lib/aws-iam";
import { AwsSolutionsChecks } from "cdk-nag";
import { afterAll, describe, expect, it } from "vitest";
import type { SquallFunction } from "../../cdk/constructs/squall-function.js";
import { ThumbnailsStack } from "../../examples/thumbnails/stack.js";
import { arn, logicalId, ROOT } from "./stack.js";

const OUT = mkdtempSync(join(tmpdir(), "squall-cdk-thumbnails-"));
afterAll(() => rmSync(OUT, { recursive: true, force: true }));

/** The example's stack, bundled (esbuild, and npm installing `nodeModules`) or not. */
function thumbnailsStack(bundled: boolean): ThumbnailsStack {
  const app = new App({
    outdir: join(OUT, bundled ? "bundled" : "template"),
    context: bundled ? {} : { "aws:cdk:bundling-stacks": [] },
  });
  // aws-cdk-lib caches asset fingerprints under the home folder: keep them in the repository's.
  const home = process.env.HOME;
  process.env.HOME = join(ROOT, ".cdk-home");
  try {
    return new ThumbnailsStack(app, "SquallThumbnails", { projectRoot: ROOT });
  } finally {
    process.env.HOME = home;
  }
}

function poolWorker(stack: ThumbnailsStack): SquallFunction {
  const large = stack.squall.pools.get("large");
  if (!large) throw new Error("the example's stack lacks its pool `large`");
  return large.worker;
}

/** Each S3 action a function's role is granted, with the resources it is granted on. */
function s3Grants(template: Template, fn: SquallFunction): Record<string, unknown[]> {
  const role = logicalId(fn.grantPrincipal as Role);
  const grants: Record<string, unknown[]> = {};
  for (const policy of Object.values(template.findResources("AWS::IAM::Policy"))) {
    if (!policy.Properties.Roles.some((r: { Ref: string }) => r.Ref === role)) continue;
    for (const { Action, Resource } of policy.Properties.PolicyDocument.Statement) {
      for (const action of [Action].flat() as string[]) {
        if (action.startsWith("s3:")) grants[action] = [...(grants[action] ?? []), ...[Resource].flat()];
      }
    }
  }
  return grants;
}

describe("the thumbnails example's stack", () => {
  const stack = thumbnailsStack(false);
  const template = Template.fromStack(stack);
  const resources = template.toJSON().Resources;
  const bucket = stack.squall.results.bucket;
  const objects = (prefix: string) => ({ "Fn::Join": ["", [arn(bucket), `/${prefix}*`]] });

  it("gives the pool `large` 3008 MB, two minutes and at most 20 workers at once, on arm64", () => {
    const worker = poolWorker(stack);
    const fn = resources[logicalId(worker.function)].Properties;
    expect({ memory: fn.MemorySize, timeout: fn.Timeout, architectures: fn.Architectures }).toEqual({
      memory: 3008,
      timeout: 120,
      architectures: ["arm64"],
    });
    const mapping = Object.values(template.findResources("AWS::Lambda::EventSourceMapping")).find(
      (m) => m.Properties.FunctionName.Ref === logicalId(worker.function),
    );
    expect(mapping?.Properties.ScalingConfig).toEqual({ MaximumConcurrency: 20 });
    expect(resources[logicalId(stack.squall.worker.function)].Properties.MemorySize).toBe(1024);
  });

  it("lets the pool's worker put thumbnails/ in the bucket besides squall's grants, and no other function", () => {
    expect(s3Grants(template, poolWorker(stack))).toEqual({
      "s3:GetObject": [objects("runs/"), objects("keys/")],
      "s3:PutObject": [objects("runs/"), objects("thumbnails/")],
      "s3:AbortMultipartUpload": [objects("runs/")],
      "s3:ListBucket": [arn(bucket)],
    });
    for (const fn of [stack.squall.worker, stack.squall.flowRunner, stack.squall.coordinator]) {
      expect(JSON.stringify(s3Grants(template, fn)), fn.node.id).not.toContain("thumbnails/");
    }
  });
});

describe("the thumbnails example's stack under the AwsSolutions rule pack", () => {
  it("leaves nothing unexplained: its one wildcard, thumbnails/*, suppressed with its reason", () => {
    const stack = thumbnailsStack(false);
    Aspects.of(stack).add(new AwsSolutionsChecks());
    const annotations = Annotations.fromStack(stack);
    const rules = Match.stringLikeRegexp("AwsSolutions-.*");
    expect(annotations.findError("*", rules)).toEqual([]);
    expect(annotations.findWarning("*", rules)).toEqual([]);
    // Beside squall's own suppressions, only the example's, narrowed to thumbnails/*.
    type Rule = { id: string; applies_to?: unknown[] };
    type Resource = { Metadata?: { cdk_nag?: { rules_to_suppress?: Rule[] } } };
    const resources = Template.fromStack(stack).toJSON().Resources as Record<string, Resource>;
    const thumbnails = Object.entries(resources).flatMap(([id, resource]) =>
      (resource.Metadata?.cdk_nag?.rules_to_suppress ?? [])
        .filter((rule) => JSON.stringify(rule).includes("thumbnails/"))
        .map((rule) => ({ id, rule: rule.id, appliesTo: rule.applies_to })),
    );
    const suppressed = new Set(thumbnails.map(({ rule, appliesTo }) => JSON.stringify({ rule, appliesTo })));
    expect([...suppressed]).toEqual([
      JSON.stringify({
        rule: "AwsSolutions-IAM5",
        appliesTo: [`Resource::<${logicalId(stack.squall.results.bucket)}.Arn>/thumbnails/*`],
      }),
    ]);
    // On the pool's worker (its role's policy among its resources), and nothing else.
    const role = poolWorker(stack).grantPrincipal as Role;
    expect(thumbnails.map(({ id }) => id)).toContain(logicalId(role.node.findChild("DefaultPolicy")));
    for (const { id } of thumbnails) expect(id).toMatch(/^SquallPoolLargeWorker/);
  });
});

/** ELF's `e_machine` for 64-bit ARM (x86-64 is 62). */
const ELF_AARCH64 = 183;

/** The machine a native binary is built for, from its ELF header. */
function elfMachine(path: string): number {
  const header = readFileSync(path).subarray(0, 20);
  expect(header.subarray(0, 4).toString("latin1")).toBe("\x7fELF");
  return header.readUInt16LE(18);
}

describe("the thumbnails example's bundles", () => {
  it("install sharp beside the pool worker's bundle for Lambda's arm64 linux, not for this machine", {
    timeout: 240_000,
  }, () => {
    const stack = thumbnailsStack(true);
    const assembly = App.of(stack)?.synth() ?? expect.fail("no app");
    const template = assembly.getStackByName(stack.stackName).template;
    const worker = poolWorker(stack);
    const code = template.Resources[logicalId(worker.function)].Properties.Code.S3Key as string;
    const asset = join(assembly.directory, `asset.${code.replace(/\.zip$/, "")}`);

    const sharp = JSON.parse(readFileSync(join(asset, "node_modules/sharp/package.json"), "utf8"));
    const devDependencies = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).devDependencies;
    expect(sharp.version).toBe(devDependencies.sharp);
    // sharp's binary and libvips for linux arm64 (glibc), whatever the machine that synthesized.
    expect(readdirSync(join(asset, "node_modules/@img")).sort()).toEqual([
      "colour",
      "sharp-libvips-linux-arm64",
      "sharp-linux-arm64",
    ]);
    const lib = join(asset, "node_modules/@img/sharp-linux-arm64/lib");
    const binaries = readdirSync(lib).filter((file) => file.endsWith(".node"));
    expect(binaries).toEqual([`sharp-linux-arm64-${sharp.version}.node`]);
    expect(elfMachine(join(lib, binaries[0] as string))).toBe(ELF_AARCH64);
    // Imported from node_modules at run time, not bundled.
    const bundle = readFileSync(join(asset, "index.mjs"), "utf8");
    expect(bundle).toMatch(/^import \w+ from "sharp";$/m);
    expect(bundle).not.toMatch(/^\/\/ (?:\.\.\/[^\n]*\/)?node_modules\/sharp\//m);
  });
});
