import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { processRuns } from "../../sdk/aws/local/announcement.js";

// `squall env start --pools`: a kept local environment with a worker pool, which a script's
// `LambdaTaskRunner()` learns from the announcement and routes `pool` tasks to.
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SQUALL = join(ROOT, "sdk/cli/squall.js");
const TSX = join(ROOT, "node_modules/tsx/dist/cli.mjs");
const SDK = pathToFileURL(join(ROOT, "sdk/index.ts")).href;
const AWS = pathToFileURL(join(ROOT, "sdk/aws/index.ts")).href;
const PROJECT = realpathSync(mkdtempSync(join(tmpdir(), "squall-env-pools-")));
const ANNOUNCEMENT = join(PROJECT, ".squall", "env.json");
let pid: number | undefined;

afterAll(() => {
  if (pid !== undefined && processRuns(pid)) process.kill(pid, "SIGTERM");
  rmSync(PROJECT, { recursive: true, force: true });
});

writeFileSync(join(PROJECT, "package.json"), '{ "type": "module" }\n');
writeFileSync(
  join(PROJECT, "flows.ts"),
  `import { task } from "${SDK}";
const where = (value: string) => ({ value, queue: process.env.SQUALL_TASK_QUEUE_URL, timeout: process.env.SQUALL_WORKER_TIMEOUT_SECONDS });
export const anywhere = task(function anywhere(value: string) { return where(value); });
export const large = task({ pool: "large" }, function large(value: string) { return where(value); });
`,
);
writeFileSync(
  join(PROJECT, "script.ts"),
  `import { flow } from "${SDK}";
import { LambdaTaskRunner } from "${AWS}";
import { anywhere, large } from "./flows.ts";
const across = flow({ taskRunner: new LambdaTaskRunner() }, async function across() {
  return Promise.all([anywhere.submit("a"), large.submit("b")].map((future) => future.result()));
});
console.log(JSON.stringify(await across()));
`,
);

function execute(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" };
  for (const name of Object.keys(env)) if (name.startsWith("SQUALL_")) delete env[name];
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd: PROJECT, env, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

describe("squall env start --pools", { timeout: 120_000 }, () => {
  it("keeps an environment with the pools, whose queues a script's LambdaTaskRunner() sends to", async () => {
    const pools = JSON.stringify({ large: { workers: 1, workerTimeoutSeconds: 90 } });
    const start = await execute([SQUALL, "env", "start", "--workers", "1", "--pools", pools]);
    expect(start.code, start.stderr).toBe(0);
    const announcement = JSON.parse(readFileSync(ANNOUNCEMENT, "utf8")) as {
      pid: number;
      taskQueueUrl: string;
      pools: Record<string, { taskQueueUrl: string; workerTimeoutSeconds: number }>;
    };
    pid = announcement.pid;
    const large = announcement.pools.large;
    expect(large?.workerTimeoutSeconds).toBe(90);
    expect(start.stderr).toContain(`  pool large: task queue ${large?.taskQueueUrl}, worker timeout 90 s\n`);

    const run = await execute([TSX, "script.ts"]);

    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual([
      { value: "a", queue: announcement.taskQueueUrl, timeout: "60" },
      { value: "b", queue: large?.taskQueueUrl, timeout: "90" },
    ]);
    const stop = await execute([SQUALL, "env", "stop"]);
    expect(stop.code, stop.stderr).toBe(0);
  });

  it("refuses --pools that is not JSON, saying what it should be", async () => {
    const { code, stderr } = await execute([SQUALL, "env", "start", "--pools", "{large"]);
    expect(code).toBe(2);
    expect(stderr).toBe(
      'squall: Expected --pools to be JSON naming the worker pools, e.g. {"large":{"workers":1,"workerTimeoutSeconds":600}}, got `{large`.\n',
    );
  });
});
