// The thumbnails example (examples/thumbnails/) synthesized with `cdk synth --app` and run as AWS
// runs it, every limit and IAM on: from a laptop, `squall run ... --stack SquallThumbnails` over a
// generated folder of images; the pool `large`'s function makes each thumbnail with the sharp its
// bundle carries in node_modules, and puts it in the stack's bucket with its own role.
//
// Why x86_64 here: the harness runs each function as a Node process on this machine (x64 linux),
// which cannot load sharp's arm64 binary. So this test synthesizes the stack with
// `-c squall:architecture=x86_64`, which has npm install sharp's linux-x64 binary beside the
// bundle, and checks that it did; that the default (arm64) synth installs
// `@img/sharp-linux-arm64`, an aarch64 binary, is asserted from its asset in
// test/cdk/thumbnails.test.ts.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Thumbnail } from "../../examples/thumbnails/thumbnails.js";
import { SAMPLE_IMAGES, writeSampleImages } from "../support/sample-images.js";
import { expectThumbnails } from "../support/thumbnails.js";
import { type DeployedStack, deployStack } from "./harness/deployed-stack.js";
import { synthesize } from "./harness/synth.js";
import { flowRunIds } from "./support/flow-runs.js";
import { ROOT, runOnLaptop } from "./support/laptop.js";
import { whatHappened } from "./support/report.js";

const STACK = "SquallThumbnails";
const scratch = mkdtempSync(join(tmpdir(), "squall-aws-thumbnails-"));
const cloudAssembly = join(scratch, "cdk.out");
const photos = join(scratch, "photos");
let stack: DeployedStack;

beforeAll(async () => {
  mkdirSync(photos);
  await Promise.all([
    writeSampleImages(photos),
    synthesize(
      ROOT,
      cloudAssembly,
      join(scratch, "cdk-home"),
      { "squall:architecture": "x86_64" },
      "npx tsx examples/thumbnails/app.ts",
    ),
  ]);
  stack = await deployStack({ cloudAssembly, stackName: STACK });
}, 240_000);
afterAll(async () => {
  await stack?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

/** The flow's result: the JSON `squall run` prints last. */
function printedResult(stdout: string): Thumbnail[] {
  const lines = stdout.trimEnd().split("\n");
  return JSON.parse(lines.slice(lines.lastIndexOf("[")).join("\n")) as Thumbnail[];
}

describe("the thumbnails example on its synthesized stack", () => {
  it("carries sharp in the pool worker's node_modules, installed for the functions' platform", () => {
    const asset = stack.fn("SquallPoolLargeWorkerFunction").config.codeDir;
    expect(readdirSync(join(asset, "node_modules/@img")).sort()).toEqual([
      "colour",
      "sharp-libvips-linux-x64",
      "sharp-linux-x64",
    ]);
    expect(existsSync(join(asset, "node_modules/sharp/package.json"))).toBe(true);
    expect(readFileSync(join(asset, "index.mjs"), "utf8")).toMatch(/^import \w+ from "sharp";$/m);
  });

  it("writes a thumbnail of each image to the stack's bucket, each made once by the pool `large`'s function", {
    timeout: 120_000,
  }, async () => {
    const run = await runOnLaptop(
      [
        "sdk/cli/squall.js",
        "run",
        "examples/thumbnails/thumbnails.ts:thumbnails",
        "--stack",
        STACK,
        "--region",
        stack.region,
        "--endpoint",
        stack.endpoint,
        "--params",
        JSON.stringify(photos),
      ],
      {
        credentials: stack.caller("laptop"),
        env: { SQUALL_HOME: join(scratch, "squall-home") },
        timeoutMs: 100_000,
      },
    );

    expect(run.code, whatHappened(stack, run)).toBe(0);
    expect(await stack.quiet(), `still busy\n${whatHappened(stack, run)}`).toBe(true);
    const ids = await flowRunIds(stack);
    expect(ids).toHaveLength(1);
    const outcomes = await expectThumbnails(
      stack.admin.s3,
      stack.outputs.BucketName as string,
      ids[0] as string,
      printedResult(run.stdout),
    );
    const streams = (prefix: string) => stack.fn(prefix).invocations.map((i) => i.logStreamName);
    const large = streams("SquallPoolLargeWorkerFunction");
    expect(outcomes.map((outcome) => large.includes(outcome.worker as string))).toEqual(
      SAMPLE_IMAGES.map(() => true),
    );
    expect(streams("SquallWorkerFunction")).toEqual([]);
    expect(stack.denials).toEqual([]);
  });
});
