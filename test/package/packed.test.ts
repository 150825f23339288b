// The package as users get it: `npm pack` (whose prepack builds dist/), the tarball installed
// into fresh projects outside the repository, and used there as the README says, in child
// processes that resolve `squall` from node_modules (vitest's aliases map it to the source).
// One project has the optional peers a user adds; one has squall alone, where what needs a
// missing peer must say which to install and the rest must work; one deploys without esbuild.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { moduleHash } from "../../sdk/registry.js";
import { importedPackages, staticPackages } from "./imports.js";
import { createProject, locked, type Outcome, pack, run } from "./project.js";

const scratch = mkdtempSync(join(tmpdir(), "squall-package-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The tarball and every optional peer, at the versions the repository tests with. */
const app = join(scratch, "app");
/** The tarball alone, what `npm install squall` gives (and Node's types, to type-check with). */
const bare = join(scratch, "bare");
/** A deploying project without esbuild: aws-cdk-lib and constructs only. */
const deployOnly = join(scratch, "deploy-only");
/** What a user adds for all of squall: its optional peers. */
const PEERS = ["aws-cdk-lib", "cdk-nag", "constructs", "esbuild", "fauxqs", "tsx", "typescript"];

/** squall as installed in `app`: the tarball's files. */
const installed = join(app, "node_modules", "squall");
let packedFiles: string[] = [];

beforeAll(async () => {
  const tarball = await pack(scratch);
  packedFiles = tarball.files;
  await Promise.all([
    createProject(app, [tarball.path, ...PEERS.map(locked)]),
    createProject(bare, [tarball.path, locked("@types/node")]),
    createProject(deployOnly, [tarball.path, locked("aws-cdk-lib"), locked("constructs")]),
  ]);
}, 600_000);

interface RunnerReport {
  readonly runner: string;
  readonly state: string;
  readonly result?: unknown;
  readonly error?: string;
  readonly taskRuns: { name: string; state: string; worker: string }[];
}

/** each-runner.mjs's lines, by runner. */
function reports({ code, stdout, stderr }: Outcome): Record<string, RunnerReport> {
  expect(code, stderr).toBe(0);
  const lines = stdout.split("\n").filter((line) => line.startsWith('{"runner"'));
  return Object.fromEntries(lines.map((line) => [JSON.parse(line).runner, JSON.parse(line)]));
}

/** The flow `doubled([1, 2, 3])` ran its four task runs once each, every one where `worker` says. */
function expectDoubled(report: RunnerReport | undefined, worker: RegExp): void {
  expect(report).toMatchObject({ state: "Completed", result: 12 });
  const taskRuns = [...(report?.taskRuns ?? [])].sort((a, b) => a.name.localeCompare(b.name));
  expect(taskRuns.map(({ name, state }) => `${name} ${state}`)).toEqual([
    "double-0 Completed",
    "double-1 Completed",
    "double-2 Completed",
    "total-0 Completed",
  ]);
  for (const { worker: where } of taskRuns) expect(where).toMatch(worker);
}

const IN_PROCESS = /^in process$/;
const THREAD = /^thread \d+$/;
/** A local Lambda execution environment, named as its log stream would be. */
const LAMBDA = /^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32}$/;

/** Each runner ran the flow, in process, in threads or in local Lambda functions as it should. */
function expectEachRunner(byRunner: ReturnType<typeof reports>) {
  expect(Object.keys(byRunner)).toEqual(["sequential", "concurrent", "threads", "lambda"]);
  expectDoubled(byRunner.sequential, IN_PROCESS);
  expectDoubled(byRunner.concurrent, IN_PROCESS);
  expectDoubled(byRunner.threads, THREAD);
  expectDoubled(byRunner.lambda, LAMBDA);
}

describe("the packed package", () => {
  it("ships dist/ with the bin and what its manifest names, with every peer optional", () => {
    const outside = packedFiles.filter(
      (file) =>
        !file.startsWith("dist/") &&
        !["package.json", "README.md", "LICENSE", "sdk/cli/squall.js"].includes(file),
    );
    expect(outside).toEqual([]);
    const manifest = JSON.parse(readFileSync(join(installed, "package.json"), "utf8"));
    const optional = Object.entries(manifest.peerDependenciesMeta as Record<string, { optional?: boolean }>);
    expect(optional.filter(([, meta]) => meta.optional).map(([name]) => name)).toEqual(PEERS);
    expect(Object.keys(manifest.peerDependencies)).toEqual(PEERS);
    const targets = [
      ...Object.values(manifest.exports as Record<string, Record<string, string>>).flatMap(Object.values),
      ...Object.values(manifest.bin as Record<string, string>),
      "dist/functions/worker.js",
      "dist/functions/coordinator.js",
      "dist/functions/flow-runner.js",
      "dist/sdk/cli/dashboard/page/index.html",
    ];
    for (const target of targets) expect(existsSync(join(installed, target)), target).toBe(true);
  });

  it("imports only its dependencies and peers, in its JavaScript and its declarations", () => {
    const manifest = JSON.parse(readFileSync(join(installed, "package.json"), "utf8"));
    const declared = new Set([
      ...Object.keys(manifest.dependencies),
      ...Object.keys(manifest.peerDependencies),
    ]);
    const undeclared = Object.entries(importedPackages(join(installed, "dist"))).filter(
      ([name]) => !declared.has(name),
    );
    expect(Object.fromEntries(undeclared)).toEqual({});
  });

  it("loads squall, squall/aws, the CLI and the functions without an optional peer; squall/cdk needs aws-cdk-lib and constructs", async () => {
    const optional = (packages: string[]) => packages.filter((name) => PEERS.includes(name));
    for (const entry of [
      "dist/sdk/index.js",
      "dist/sdk/aws/index.js",
      "dist/sdk/cli/bin.js",
      "dist/functions/worker.js",
      "dist/functions/coordinator.js",
      "dist/functions/flow-runner.js",
    ]) {
      expect(optional(await staticPackages(installed, entry)), entry).toEqual([]);
    }
    expect(optional(await staticPackages(installed, "dist/cdk/index.js"))).toEqual([
      "aws-cdk-lib",
      "constructs",
    ]);
  });
});

describe("in a project with the optional peers", () => {
  it("runs a JavaScript flows module with node on each local runner and the embedded Lambda environment", async () => {
    const byRunner = reports(await run(app, "node", ["each-runner.mjs", "flows.mjs"]));

    expectEachRunner(byRunner);
  });

  it("runs a TypeScript flows module with tsx, its threads and local functions importing the .ts module", async () => {
    const byRunner = reports(await run(app, "npx", ["tsx", "each-runner.mjs", "flows.ts"]));

    expectEachRunner(byRunner);
  });

  it("runs a flow with the squall command: from JavaScript on its own runner, from TypeScript in threads", async () => {
    const fromJs = await run(app, "npx", ["squall", "run", "flows.mjs:doubled", "--params", "[[1,2,3]]"]);
    const fromTs = await run(app, "npx", [
      "squall",
      "run",
      "flows.ts:doubled",
      "--params",
      "[[1,2,3]]",
      "--runner",
      "threads",
    ]);

    expect(fromJs.code, fromJs.stderr).toBe(0);
    expect(fromJs.stdout).toBe("12\n");
    // Its own runner is the Lambda runner, whose caller counts runs sent, not running.
    expect(fromJs.stderr).toContain("task runs: 0 pending, 0 sent, 4 completed, 0 failed");
    expect(fromTs.code, fromTs.stderr).toBe(0);
    expect(fromTs.stdout).toBe("12\n");
    expect(fromTs.stderr).toContain("task runs: 0 pending, 0 running, 4 completed, 0 failed");

    // With the project's typescript, --params are checked against the flow's declared types.
    const misfit = await run(app, "npx", ["squall", "run", "flows.ts:doubled", "--params", '[[1,"2"]]']);
    expect(misfit.code, misfit.stderr).toBe(2);
    expect(misfit.stderr).toBe(
      `squall: --params does not fit flow 'doubled': numbers[1] (argument 1) must be number, got "2", as declared at flows.ts:18.\n`,
    );
  });

  it("synthesizes a stack with the Squall construct, its functions bundled with the flows module", async () => {
    // aws-cdk-lib caches asset fingerprints under the home folder: keep them in the project.
    const { code, stderr } = await run(app, "node", ["synth.mjs"], { env: { HOME: join(app, "home") } });

    expect(code, stderr).toBe(0);
    const outdir = join(app, "cdk.out");
    type Resource = {
      Type: string;
      Properties: {
        Runtime: string;
        Code: { S3Key: string };
        Environment: { Variables: Record<string, string> };
      };
    };
    const resources = JSON.parse(readFileSync(join(outdir, "Squall.template.json"), "utf8"))
      .Resources as Record<string, Resource>;
    const functions = Object.entries(resources).filter(
      ([, resource]) => resource.Type === "AWS::Lambda::Function",
    );
    expect(
      functions.map(([id, { Properties }]) => `${id.replace(/[0-9A-F]{8}$/, "")} ${Properties.Runtime}`),
    ).toEqual([
      "SquallWorkerFunction nodejs24.x",
      "SquallCoordinatorFunction nodejs24.x",
      "SquallFlowRunnerFunction nodejs24.x",
    ]);
    const [, worker] = functions[0] as [string, Resource];
    const bundle = join(outdir, `asset.${worker.Properties.Code.S3Key.replace(/\.zip$/, "")}`, "index.mjs");
    expect(existsSync(bundle), bundle).toBe(true);
    const source = readFileSync(bundle, "utf8");
    expect(source).toContain("// flows.ts");
    expect(source).toContain("// node_modules/squall/dist/sdk/aws/handlers.js");
    expect(JSON.parse(worker.Properties.Environment.Variables.SQUALL_BUNDLED_MODULES ?? "")).toEqual({
      "flows.ts": moduleHash(pathToFileURL(join(app, "flows.ts")).href),
    });
  });
});

describe("in a project with squall alone", () => {
  it("runs flows on the local runners, and the embedded Lambda environment fails saying to install fauxqs", async () => {
    const byRunner = reports(await run(bare, "node", ["each-runner.mjs", "flows.mjs"]));

    expectDoubled(byRunner.sequential, IN_PROCESS);
    expectDoubled(byRunner.concurrent, IN_PROCESS);
    expectDoubled(byRunner.threads, THREAD);
    expect(byRunner.lambda).toEqual({
      runner: "lambda",
      state: "Failed",
      error:
        "The local environment runs on the emulator fauxqs, which is not installed here: npm install --save-dev fauxqs (or give LambdaTaskRunner a deployed stack or an address).",
      taskRuns: [],
    });
  });

  it("squall run of a TypeScript file says to install tsx", async () => {
    const { code, stdout, stderr } = await run(bare, "npx", ["squall", "run", "flows.ts:doubled"]);

    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toBe(
      "squall: flows.ts is TypeScript, and squall loads TypeScript with tsx, which is not installed here: npm install --save-dev tsx (or give the compiled .js file).\n",
    );
  });

  it("squall/cdk fails to import, naming aws-cdk-lib", async () => {
    const { code, stderr } = await run(bare, "node", [
      "--input-type=module",
      "-e",
      'await import("squall/cdk")',
    ]);

    expect(code).toBe(1);
    expect(stderr).toMatch(
      /Cannot find package 'aws-cdk-lib' imported from \S*\/node_modules\/squall\/dist\/cdk\/\S+\.js/,
    );
  });

  it("its declarations type-check a TypeScript flows module, strictly and with no optional peer", async () => {
    const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
    const options = ["--strict", "--module", "nodenext", "--target", "es2023", "--types", "node"];

    const { code, stdout } = await run(bare, process.execPath, [tsc, "--noEmit", ...options, "flows.ts"]);

    expect(stdout).toBe("");
    expect(code).toBe(0);
  });
});

describe("in a deploying project without esbuild", () => {
  it("synthesizing fails saying to install esbuild", async () => {
    const { code, stderr } = await run(deployOnly, "node", ["synth.mjs"], {
      env: { HOME: join(deployOnly, "home") },
    });

    expect(code).toBe(1);
    expect(stderr).toContain(
      "squall/cdk bundles the functions with esbuild, which is not installed in this project: npm install --save-dev esbuild",
    );
  });
});
