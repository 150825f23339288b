import { execFile, spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { startLocalEnvironment } from "squall/aws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Announcement } from "../../sdk/aws/local/announcement.js";
import { processRuns } from "../../sdk/aws/local/announcement.js";
import { BucketRunBackend } from "../../sdk/aws/records/bucket-backend.js";

// `squall env start|status|stop`: a local environment kept in a process of its own for a project
// (here a folder in the temp folder), announced in its .squall/env.json, which `squall run
// --runner lambda`, a script's `LambdaTaskRunner()` and `squall runs|show --env` find; its workers
// reload a task module edited between runs.

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SQUALL = join(ROOT, "sdk/cli/squall.js");
const TSX = join(ROOT, "node_modules/tsx/dist/cli.mjs");
const SDK = pathToFileURL(join(ROOT, "sdk/index.ts")).href;
const AWS = pathToFileURL(join(ROOT, "sdk/aws/index.ts")).href;

const PROJECT = realpathSync(mkdtempSync(join(tmpdir(), "squall-env-")));
const ANNOUNCEMENT = join(PROJECT, ".squall", "env.json");
/** Every environment process a test started (or announced), stopped at the end whatever happened. */
const started = new Set<number>();

const flowsSource = (version: string) => `import { flow, task } from "${SDK}";

export const shout = task(function shout(word: string) {
  return \`\${word.toUpperCase()} ${version}\`;
});

export const shouting = flow(async function shouting(words: string[]) {
  return shout.map(words).result();
});
`;

const SCRIPT = `import { flow } from "${SDK}";
import { LambdaTaskRunner } from "${AWS}";
import { shout } from "./flows.ts";

const viaLambda = flow({ taskRunner: new LambdaTaskRunner() }, async function viaLambda(words: string[]) {
  return shout.map(words).result();
});
const state = await viaLambda.run(["a", "b"]);
console.log(JSON.stringify({ id: state.flowRun.id, type: state.type, result: state.type === "COMPLETED" ? state.result : String(state.error) }));
`;

interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The child's environment: no address of its own (SQUALL_*), no colours, not CI. */
function environment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" };
  for (const name of Object.keys(env)) if (name.startsWith("SQUALL_")) delete env[name];
  delete env.FORCE_COLOR;
  delete env.CI;
  return env;
}

function execute(args: readonly string[], variables: NodeJS.ProcessEnv = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      args,
      { cwd: PROJECT, env: { ...environment(), ...variables }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** `squall <args>` in the project's folder, as `npx squall` runs it there. */
const squall = (...args: string[]) => execute([SQUALL, ...args]);

type Announced = Announcement;

function announced(): Announced {
  const announcement = JSON.parse(readFileSync(ANNOUNCEMENT, "utf8")) as Announced;
  started.add(announcement.pid);
  return announcement;
}

async function startEnvironment(): Promise<{ outcome: Outcome; env: Announced }> {
  const outcome = await squall("env", "start", "--workers", "2");
  const env = announced();
  return { outcome, env };
}

/** The flow run ids `squall runs --env` lists. */
async function listedIds(): Promise<string[]> {
  const { code, stdout, stderr } = await squall("runs", "--env");
  expect(code, stderr).toBe(0);
  return stdout
    .split("\n")
    .slice(1)
    .map((line) => line.split(/\s+/)[0] ?? "")
    .filter(Boolean);
}

const runId = (stderr: string) => stderr.match(/\(([0-9a-f-]{36})\) of flow/)?.[1] ?? "";

beforeAll(() => {
  writeFileSync(join(PROJECT, "package.json"), '{ "type": "module" }\n');
  writeFileSync(join(PROJECT, "flows.ts"), flowsSource("v1"));
  writeFileSync(join(PROJECT, "script.ts"), SCRIPT);
  // A runner given the setup of a local environment starts its own, whatever is announced.
  writeFileSync(
    join(PROJECT, "own-script.ts"),
    SCRIPT.replace("new LambdaTaskRunner()", "new LambdaTaskRunner({ local: { workers: 1 } })"),
  );
});

afterAll(async () => {
  if (existsSync(ANNOUNCEMENT)) announced();
  for (const pid of started) {
    if (!processRuns(pid)) continue;
    process.kill(pid, "SIGTERM");
    const until = Date.now() + 10_000;
    while (processRuns(pid) && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50));
    if (processRuns(pid)) process.kill(pid, "SIGKILL");
  }
  rmSync(PROJECT, { recursive: true, force: true });
});

describe("squall env", { timeout: 120_000 }, () => {
  it("status says that none runs, and exits 1", async () => {
    const { code, stderr } = await squall("env", "status");
    expect(code).toBe(1);
    expect(stderr).toBe(
      `squall: no local environment runs for this project (none announced in ${ANNOUNCEMENT}); start one with: squall env start\n`,
    );
  });

  it("start runs one in a process of its own, announces it in .squall/env.json and prints where it is", async () => {
    const { outcome, env } = await startEnvironment();
    expect(outcome.code, outcome.stderr).toBe(0);
    const id = env.bucket.slice("squall-".length);
    expect(env).toEqual({
      v: 1,
      pid: expect.any(Number),
      startedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      projectRoot: PROJECT,
      endpoint: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
      region: "us-east-1",
      bucket: expect.stringMatching(/^squall-[0-9a-f]{8}$/),
      taskQueueUrl: expect.stringMatching(new RegExp(`/squall-tasks-${id}$`)),
      completionQueueUrl: expect.stringMatching(new RegExp(`/squall-completions-${id}$`)),
      deadLetterQueueUrl: expect.stringMatching(new RegExp(`/squall-tasks-dlq-${id}$`)),
      workerTimeoutSeconds: 60,
      callerSilenceSeconds: 180,
    });
    expect(processRuns(env.pid)).toBe(true);
    expect(Math.abs(Date.parse(env.startedAt) - Date.now())).toBeLessThan(60_000);
    expect(outcome.stderr).toBe(
      [
        `squall: local environment started (pid ${env.pid}), announced in ${ANNOUNCEMENT}`,
        `  endpoint      ${env.endpoint} (region us-east-1)`,
        `  bucket        ${env.bucket}`,
        `  task queue    ${env.taskQueueUrl}`,
        `  completions   ${env.completionQueueUrl}`,
        `  dead letters  ${env.deadLetterQueueUrl}`,
        `  look inside:  aws --endpoint-url ${env.endpoint} s3 ls s3://${env.bucket}/runs/ --recursive`,
        `                aws --endpoint-url ${env.endpoint} sqs get-queue-attributes --queue-url ${env.taskQueueUrl} --attribute-names All`,
        "  stop it with: squall env stop",
        "",
      ].join("\n"),
    );

    // A second start leaves it be.
    const again = await squall("env", "start");
    expect(again.code).toBe(0);
    expect(again.stderr.split("\n")[0]).toBe(
      `squall: a local environment already runs for this project (pid ${env.pid})`,
    );
    expect(announced()).toEqual(env);
  });

  it("squall run --runner lambda runs on it, and squall runs|show --env read its bucket", async () => {
    const run = await squall("run", "--runner", "lambda", "flows.ts:shouting", "--params", '[["x", "y"]]');
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual(["X v1", "Y v1"]);
    const id = runId(run.stderr);
    expect(id).not.toBe("");
    // The run's tasks went through the kept environment: its bucket holds the run.
    expect(await listedIds()).toEqual([id.slice(0, 8)]);
    const show = await squall("show", "--env", id.slice(0, 8));
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain(id);
    expect(show.stdout.match(/Completed/g)?.length).toBeGreaterThanOrEqual(3); // the flow run and both task runs
    const missing = await squall("show", "--env", "no-such-run");
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(
      `squall: No flow run \`no-such-run\` in the local environment (bucket ${announced().bucket}): \`squall runs --env\` lists them (by id, or name such as \`witty-otter\`).\n`,
    );
    // Asked for a stack at its endpoint, where there are none, the command says what to give instead.
    const { endpoint } = announced();
    const asStack = await squall("runs", "--stack", "Squall", "--endpoint", endpoint);
    expect(asStack.code).toBe(2);
    expect(asStack.stderr).toBe(
      `squall: Could not read stack 'Squall' (Unknown action: DescribeStacks). Deploy it with \`npx cdk deploy\`, or check the region and credentials. ${endpoint} is the local environment squall env start keeps, which has no stacks: read it with --env, or run on it with --runner lambda and no --stack.\n`,
    );
    // --env and --stack exclude each other.
    const both = await squall("runs", "--env", "--stack", "Squall");
    expect(both.code).toBe(2);
    expect(both.stderr).toBe(
      "squall: --env reads the kept local environment and --stack a deployed stack: give one of them.\n",
    );
  });

  it("a script's LambdaTaskRunner() runs on it", async () => {
    const { code, stdout, stderr } = await execute([TSX, "script.ts"]);
    expect(code, stderr).toBe(0);
    const ran = JSON.parse(stdout) as { id: string; type: string; result: unknown };
    expect(ran).toMatchObject({ type: "COMPLETED", result: ["A v1", "B v1"] });
    expect(await listedIds()).toContain(ran.id.slice(0, 8));
  });

  it("reloads a task module edited while it runs: the new code runs, no CodeMismatchError", async () => {
    writeFileSync(join(PROJECT, "flows.ts"), flowsSource("v2"));
    const run = await squall(
      "run",
      "--runner",
      "lambda",
      "flows.ts:shouting",
      "--params",
      '[["x", "y", "z"]]',
    );
    expect(run.stderr).not.toContain("CodeMismatchError");
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual(["X v2", "Y v2", "Z v2"]);
    expect(await listedIds()).toContain(runId(run.stderr).slice(0, 8)); // on the kept environment

    writeFileSync(join(PROJECT, "flows.ts"), flowsSource("v3"));
    const script = await execute([TSX, "script.ts"]);
    expect(script.stderr).not.toContain("CodeMismatchError");
    expect(JSON.parse(script.stdout)).toMatchObject({ type: "COMPLETED", result: ["A v3", "B v3"] });
  });

  it("status says that it runs, where, for how long, and what it holds", async () => {
    const env = announced();
    const { code, stderr } = await squall("env", "status");
    expect(code, stderr).toBe(0);
    const lines = stderr.split("\n");
    expect(lines[0]).toMatch(
      new RegExp(
        `^squall: local environment running \\(pid ${env.pid}\\), up (\\d+\\.\\d\\d s|\\d+ min \\d+ s), for ${PROJECT}$`,
      ),
    );
    expect(lines.slice(1, 8)).toEqual([
      `  endpoint      ${env.endpoint} (region us-east-1)`,
      `  bucket        ${env.bucket}`,
      `  task queue    ${env.taskQueueUrl}`,
      `  completions   ${env.completionQueueUrl}`,
      `  dead letters  ${env.deadLetterQueueUrl}`,
      `  look inside:  aws --endpoint-url ${env.endpoint} s3 ls s3://${env.bucket}/runs/ --recursive`,
      `                aws --endpoint-url ${env.endpoint} sqs get-queue-attributes --queue-url ${env.taskQueueUrl} --attribute-names All`,
    ]);
    expect(lines[8]).toMatch(/^ {2}tasks: {8}\d+ waiting, \d+ in flight$/);
    expect(lines[9]).toMatch(/^ {2}completions: {2}\d+ waiting, \d+ in flight$/);
    expect(lines[10]).toBe("  dead letters: 0 waiting, 0 in flight");
    expect(lines[11]).toBe("  runs:         4 in the bucket");
    expect(lines.length).toBe(13);
  });

  it("comes after the SQUALL_* variables, and a runner given `local` starts its own", async () => {
    const kept = announced();
    const other = await startLocalEnvironment({ workers: 1, projectRoot: PROJECT });
    try {
      const { address } = other;
      expect(address.bucket).not.toBe(kept.bucket);
      const variables = {
        SQUALL_TASK_QUEUE_URL: address.taskQueueUrl,
        SQUALL_COMPLETION_QUEUE_URL: address.completionQueueUrl,
        SQUALL_BUCKET: address.bucket,
        SQUALL_ENDPOINT: address.endpoint,
        SQUALL_REGION: address.region,
      };
      const run = await execute(
        [SQUALL, "run", "--runner", "lambda", "flows.ts:shouting", "--params", '[["w"]]'],
        variables,
      );
      expect(run.code, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout)).toEqual(["W v3"]);
      const id = runId(run.stderr);
      expect(await listedIds()).not.toContain(id.slice(0, 8));
      // It ran on the environment the variables name.
      const inOther = await new BucketRunBackend(address).list();
      expect(inOther.map((summary) => summary.id)).toEqual([id]);
    } finally {
      await other.stop();
    }
    const own = await execute([TSX, "own-script.ts"]);
    expect(own.code, own.stderr).toBe(0);
    const ran = JSON.parse(own.stdout) as { id: string; type: string };
    expect(ran.type).toBe("COMPLETED");
    expect(await listedIds()).not.toContain(ran.id.slice(0, 8));
  });

  it("squall dashboard --env serves the runs in its bucket", async () => {
    const env = announced();
    const ids = await listedIds();
    const dashboard = spawn(process.execPath, [SQUALL, "dashboard", "--env"], {
      cwd: PROJECT,
      env: environment(),
    });
    const exited = new Promise((resolve) => dashboard.once("exit", resolve));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = "";
        dashboard.stdout.on("data", (chunk) => {
          out += String(chunk);
          const found = out.match(/^squall dashboard: (http:\/\/127\.0\.0\.1:\d+\/)/m)?.[1];
          if (found) resolve(found);
        });
        dashboard.once("exit", (code) => reject(new Error(`The dashboard exited with ${code}: ${out}`)));
      });
      const answer = (await (await fetch(new URL("api/runs", url))).json()) as {
        root: string;
        runs: { id: string }[];
      };
      expect(answer.root).toBe(`the local environment (bucket ${env.bucket})`);
      expect(answer.runs.map((run) => run.id.slice(0, 8)).sort()).toEqual([...ids].sort());
    } finally {
      dashboard.kill("SIGTERM");
      await exited;
    }
  });

  it("stop ends its process and removes the announcement", async () => {
    const env = announced();
    const { code, stderr } = await squall("env", "stop");
    expect(code, stderr).toBe(0);
    expect(stderr).toBe(`squall: stopped the local environment (pid ${env.pid}).\n`);
    expect(processRuns(env.pid)).toBe(false);
    expect(existsSync(ANNOUNCEMENT)).toBe(false);
    const status = await squall("env", "status");
    expect(status.code).toBe(1);
    const runs = await squall("runs", "--env");
    expect(runs.code).toBe(2);
    expect(runs.stderr).toBe(
      `squall: --env reads the local environment squall env start keeps, and none is announced in ${ANNOUNCEMENT}: start one with squall env start.\n`,
    );
  });

  it("recognises a stale announcement, whose process is gone, and replaces it", async () => {
    // An announcement whose process ended, as one left by a machine that went down.
    const gone = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]);
    const pid = Number(gone.stdout.toString());
    expect(processRuns(pid)).toBe(false);
    mkdirSync(join(PROJECT, ".squall"), { recursive: true });
    const stale = {
      v: 1,
      pid,
      startedAt: "2026-01-01T00:00:00.000Z",
      projectRoot: PROJECT,
      endpoint: "http://127.0.0.1:9",
      region: "us-east-1",
      bucket: "squall-00000000",
      taskQueueUrl: "http://127.0.0.1:9/000000000000/squall-tasks-00000000",
      completionQueueUrl: "http://127.0.0.1:9/000000000000/squall-completions-00000000",
      deadLetterQueueUrl: "http://127.0.0.1:9/000000000000/squall-tasks-dlq-00000000",
      workerTimeoutSeconds: 60,
      callerSilenceSeconds: 180,
    };
    writeFileSync(ANNOUNCEMENT, JSON.stringify(stale));
    const staleLine = `squall: ${ANNOUNCEMENT} names a local environment (pid ${pid}, started 2026-01-01T00:00:00.000Z) that no longer runs`;

    const status = await squall("env", "status");
    expect(status.code).toBe(1);
    expect(status.stderr).toBe(`${staleLine}; squall env start starts a new one in its place.\n`);

    // A run does not use it: it starts an environment of its own, saying why.
    const run = await squall("run", "--runner", "lambda", "flows.ts:shouting", "--params", '[["q"]]');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain(
      `squall: ${ANNOUNCEMENT} names a local environment (pid ${pid}) that no longer runs; starting one for this flow run (squall env start keeps one).\n`,
    );
    expect(JSON.parse(run.stdout)).toEqual(["Q v3"]);

    const { outcome, env } = await startEnvironment();
    expect(outcome.code, outcome.stderr).toBe(0);
    expect(outcome.stderr.split("\n")[0]).toBe(`${staleLine}; starting a new one in its place.`);
    expect(env.pid).not.toBe(pid);
    expect(processRuns(env.pid)).toBe(true);

    const stop = await squall("env", "stop");
    expect(stop.code, stop.stderr).toBe(0);
    expect(processRuns(env.pid)).toBe(false);
    expect(existsSync(ANNOUNCEMENT)).toBe(false);

    // stop on a stale announcement removes it.
    writeFileSync(ANNOUNCEMENT, JSON.stringify(stale));
    const cleared = await squall("env", "stop");
    expect(cleared.code).toBe(0);
    expect(cleared.stderr).toBe(`${staleLine}; removed the announcement.\n`);
    expect(existsSync(ANNOUNCEMENT)).toBe(false);
  });
});
