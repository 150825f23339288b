// One real `cdk synth` through the CLI, as `npm run synth` runs it: offline (no notices, version
// check or telemetry), bundling the three functions with the local esbuild (no Docker).
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { startEmulator } from "squall/aws";
import { afterAll, describe, expect, it } from "vitest";
import { moduleHash } from "../../sdk/registry.js";
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
    // The embedded emulator stays out of the functions.
    for (const bundle of bundles) expect(bundle).not.toContain("// node_modules/fauxqs/");

    const worker = Object.values(template.Resources as Record<string, FunctionResource>).find(
      (resource) =>
        resource.Type === "AWS::Lambda::Function" &&
        resource.Properties.Environment?.Variables?.SQUALL_BUNDLED_MODULES,
    );
    bundledWorker = {
      path: join(outdir, `asset.${worker?.Properties.Code.S3Key.replace(/\.zip$/, "")}`, "index.mjs"),
      bundled: worker?.Properties.Environment?.Variables?.SQUALL_BUNDLED_MODULES as string,
    };
  }, 180_000);

  it("writes a worker bundle that runs a task of the flows module against the embedded emulator", async () => {
    expect(bundledWorker, "the synth above must have passed").toBeDefined();
    const { path, bundled } = bundledWorker as { path: string; bundled: string };
    const emulator = await startEmulator();
    try {
      const id = randomUUID().slice(0, 8);
      await emulator.createBucket(`bundle-${id}`);
      const tasks = await emulator.createQueue(`tasks-${id}`);
      const completions = await emulator.createQueue(`completions-${id}`);
      // A task record as a caller running examples/parallel-flow.ts sends it.
      const module = pathToFileURL(join(ROOT, "examples/parallel-flow.ts")).href;
      const message = {
        v: 1,
        flowRunId: randomUUID(),
        flowRunName: "bundled-run",
        flowName: "greetings",
        tasks: [
          {
            taskRunId: "b0b0b0-1",
            taskRunName: "sayHello-0",
            task: "sayHello",
            module,
            codeHash: moduleHash(module),
            attempt: 1,
            serializer: "default",
            args: { text: 'J["arthur"]' },
            logPrints: false,
            tags: [],
          },
        ],
      };
      const event = {
        Records: [
          { messageId: "m1", body: JSON.stringify(message), attributes: { ApproximateReceiveCount: "1" } },
        ],
      };
      const { code, stdout, stderr } = await runBundle(path, event, {
        SQUALL_ENDPOINT: emulator.endpoint,
        SQUALL_REGION: emulator.region,
        SQUALL_TASK_QUEUE_URL: tasks,
        SQUALL_COMPLETION_QUEUE_URL: completions,
        SQUALL_BUCKET: `bundle-${id}`,
        SQUALL_BUNDLED_MODULES: bundled,
        AWS_ACCESS_KEY_ID: "squall-local",
        AWS_SECRET_ACCESS_KEY: "squall-local",
      });

      expect(code, stderr).toBe(0);
      expect(JSON.parse(stdout)).toEqual({ batchItemFailures: [] });
      const sqs = emulator.sqsClient();
      const received = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: completions, WaitTimeSeconds: 1 }),
      );
      sqs.destroy();
      const [outcome] = JSON.parse(received.Messages?.[0]?.Body ?? "{}").outcomes ?? [];
      expect(outcome).toMatchObject({ taskRunId: "b0b0b0-1", status: "completed" });
      expect(outcome.logs).toEqual([{ stream: "stdout", text: "hello arthur" }]);
    } finally {
      await emulator.stop();
    }
  }, 60_000);
});

interface FunctionResource {
  readonly Type: string;
  readonly Properties: {
    readonly Code: { readonly S3Key: string };
    readonly Environment?: { readonly Variables?: Record<string, unknown> };
  };
}

let bundledWorker: { path: string; bundled: string } | undefined;

/** Imports the bundle in a Node process of its own, as Lambda's runtime does, and calls its handler once. */
function runBundle(
  path: string,
  event: unknown,
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const script = `const { handler } = await import(${JSON.stringify(pathToFileURL(path).href)});
process.stdout.write(JSON.stringify(await handler(${JSON.stringify(event)})));
process.exit(0);`;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--input-type=module", "-e", script],
      { env: { PATH: process.env.PATH ?? "", ...env }, timeout: 30_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}
