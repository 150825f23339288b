// One real `cdk synth` through the CLI, as `npm run synth` runs it: offline (no notices, version
// check or telemetry), bundling the three functions with the local esbuild (no Docker).
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "./stack.js";

const scratch = mkdtempSync(join(tmpdir(), "squall-synth-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Outcome {
  readonly code: number;
  readonly stderr: string;
}

function cdkSynth(outdir: string): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(
      "npx",
      ["cdk", "synth", "--no-notices", "-q", "--output", outdir],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          CDK_HOME: join(scratch, "cdk-home"),
          CDK_DISABLE_VERSION_CHECK: "1",
          CDK_DISABLE_CLI_TELEMETRY: "true",
        },
        timeout: 170_000,
      },
      (error, _stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stderr });
      },
    );
  });
}

describe("cdk synth", () => {
  it("writes the template and the three bundled functions, offline and without Docker", async () => {
    const outdir = join(scratch, "cdk.out");

    const { code, stderr } = await cdkSynth(outdir);

    expect(code, stderr).toBe(0);
    expect(stderr).not.toMatch(/docker/i);
    const template = JSON.parse(readFileSync(join(outdir, "Squall.template.json"), "utf8"));
    const assets = Object.values(template.Resources as Record<string, { Type: string; Properties: never }>)
      .filter((resource) => resource.Type === "AWS::Lambda::Function")
      .map(({ Properties }: { Properties: { Code: { S3Key: string } } }) =>
        join(outdir, `asset.${Properties.Code.S3Key.replace(/\.zip$/, "")}`, "index.mjs"),
      );
    expect(assets).toHaveLength(3);
    for (const bundle of assets) expect(existsSync(bundle), bundle).toBe(true);

    const bundles = assets.map((path) => readFileSync(path, "utf8"));
    for (const bundle of bundles) {
      // An ES module that can still require() Node's built-ins, and names kept for tasks.
      expect(bundle.startsWith('import { createRequire as __squallCreateRequire } from "node:module"')).toBe(
        true,
      );
      expect(bundle).toMatch(/\b__name\(/);
      expect(bundle).toMatch(/^export \{[\s\S]*\bhandler\b[\s\S]*\};?\s*$/m);
    }
    // The worker and the flow-runner carry the flows module; the AWS SDK is bundled, not the runtime's.
    expect(bundles.filter((bundle) => bundle.includes("// examples/parallel-flow.ts"))).toHaveLength(2);
    for (const bundle of bundles) expect(bundle).toContain("// node_modules/@aws-sdk/client-s3/");
  }, 180_000);
});
