import { execFile, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type LocalEnvironment, S3ResultStore, startFlowRun, startLocalEnvironment } from "squall/aws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Announcement } from "../../sdk/aws/local/announcement.js";
import { BucketRunBackend } from "../../sdk/aws/records/bucket-backend.js";
import { followRun } from "../../sdk/records/reading.js";
import { type FakeStack, startFakeStack } from "../support/fake-stack.js";

// Runs started on the local environment's flow-runner and left to run there: startFlowRun and
// `squall run --detach` start them, `squall logs --follow` follows them from their first line,
// `squall cancel` asks them to cancel. The CLI runs as a process of its own, finding the
// environment through the announcement a kept environment writes (here this process's).

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const FLOWS = "test/fixtures/detached-flows.ts";
const HOME = mkdtempSync(join(tmpdir(), "squall-detached-"));
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let local: LocalEnvironment;
let backend: BucketRunBackend;
let store: S3ResultStore;
let stack: FakeStack;
let target: { functionName: string; endpoint: string; region: string };

beforeAll(async () => {
  local = await startLocalEnvironment({ workers: 2, flows: FLOWS });
  target = {
    functionName: local.flowRunnerFunctionName as string,
    endpoint: local.address.endpoint,
    region: local.address.region,
  };
  const announcement: Announcement = {
    v: 1,
    pid: process.pid,
    startedAt: new Date().toISOString(),
    projectRoot: ROOT,
    endpoint: local.address.endpoint,
    region: local.address.region,
    bucket: local.address.bucket,
    taskQueueUrl: local.address.taskQueueUrl,
    completionQueueUrl: local.address.completionQueueUrl,
    deadLetterQueueUrl: local.deadLetterQueueUrl,
    workerTimeoutSeconds: local.address.workerTimeoutSeconds,
    callerSilenceSeconds: local.address.callerSilenceSeconds,
    flowRunnerFunctionName: local.flowRunnerFunctionName as string,
  };
  writeFileSync(join(HOME, "env.json"), JSON.stringify(announcement));
  backend = new BucketRunBackend(local.address);
  store = new S3ResultStore({
    bucket: local.address.bucket,
    endpoint: local.address.endpoint,
    region: local.address.region,
  });
  stack = await startFakeStack("Squall", local.address, {
    outputs: {
      FlowRunnerFunctionName: local.flowRunnerFunctionName as string,
      FlowQueueUrl: local.address.flowQueueUrl as string,
    },
  });
}, 60_000);
afterAll(async () => {
  await stack?.close();
  await local?.stop();
  rmSync(HOME, { recursive: true, force: true });
});

interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function cliEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, SQUALL_HOME: HOME, NO_COLOR: "1" };
  delete env.FORCE_COLOR;
  delete env.CI;
  return env;
}

/** Runs `squall <args>` from the repository root, its record and kept environment in HOME. */
function squall(...args: string[]): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["sdk/cli/squall.js", ...args],
      { cwd: ROOT, env: cliEnv(), timeout: 60_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

/** `squall <args>` as a process to watch while it runs: `said` resolves once stderr has that line. */
function following(...args: string[]) {
  const child = spawn(process.execPath, ["sdk/cli/squall.js", ...args], { cwd: ROOT, env: cliEnv() });
  let stdout = "";
  let stderr = "";
  const waiting: { line: string; resolve: () => void }[] = [];
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
    for (const wait of waiting) if (stderr.split("\n").includes(wait.line)) wait.resolve();
  });
  const exited = new Promise<Outcome>((resolve) =>
    child.on("exit", (code) => resolve({ code: code ?? 1, stdout, stderr })),
  );
  return {
    exited,
    said: (line: string) =>
      new Promise<void>((resolve, reject) => {
        waiting.push({ line, resolve });
        void exited.then(() => reject(new Error(`squall ended without saying ${line}:\n${stderr}`)));
      }),
  };
}

/** The run's final state, once its record in the bucket is final. */
async function finalState(id: string): Promise<string> {
  for (let i = 0; i < 600; i++) {
    const run = await backend.summary(id);
    if (run?.final) return run.state;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`flow run ${id} did not end`);
}

const text = (bytes: Uint8Array | undefined) => (bytes ? Buffer.from(bytes).toString("utf8") : undefined);

describe("startFlowRun on the local environment's flow-runner", { timeout: 60_000 }, () => {
  it("returns the run id at once; squall logs --follow attaches to the run by it, prints its lines and exits 0 once Completed", async () => {
    const { flowRunId } = await startFlowRun(target, "greetings", [["arthur", "ford", "marvin"]]);

    expect(flowRunId).toMatch(UUID);
    const followed = await squall("logs", "--follow", flowRunId, "--env");

    expect(followed.code).toBe(0);
    expect(
      followed.stdout
        .split("\n")
        .filter((line) => line.startsWith("hello"))
        .sort(),
    ).toEqual(["hello arthur", "hello ford", "hello marvin"]);
    expect(await finalState(flowRunId)).toBe("Completed");
  });

  it("squall logs --follow given the id of a run not started yet waits for it, then follows it to its end", async () => {
    const flowRunId = randomUUID();
    const follower = following("logs", "--follow", flowRunId, "--env");
    await follower.said(
      `squall: flow run ${flowRunId} has not started in the local environment (bucket ${local.address.bucket}) yet; waiting for it…`,
    );

    await startFlowRun(target, "greetings", [["deep", "thought"]], { flowRunId });

    const { code, stdout } = await follower.exited;
    expect(code).toBe(0);
    expect(
      stdout
        .split("\n")
        .filter((line) => line.startsWith("hello"))
        .sort(),
    ).toEqual(["hello deep", "hello thought"]);
    expect(await finalState(flowRunId)).toBe("Completed");
  });

  it("starts a run on the kept local environment when given no target", async () => {
    const before = process.env.SQUALL_HOME;
    process.env.SQUALL_HOME = HOME;
    let flowRunId: string;
    try {
      ({ flowRunId } = await startFlowRun(undefined, "greetings", [["trillian"]]));
    } finally {
      if (before === undefined) delete process.env.SQUALL_HOME;
      else process.env.SQUALL_HOME = before;
    }

    const lines: string[] = [];
    const summary = await followRun(backend, await waitForRun(flowRunId), (line) => {
      if (line.kind === "print") lines.push(line.text);
    });

    expect(summary.state).toBe("Completed");
    expect(lines).toEqual(["hello trillian"]);
  });
});

/** Once the run's record counts `n` task runs final. */
async function summaryCounting(id: string, n: number): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const counts = (await backend.summary(id))?.counts;
    if (counts && counts.completed + counts.failed + counts.crashed + counts.cancelled >= n) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`flow run ${id} never counted ${n} task runs final`);
}

/** The run's id once its record is in the bucket. */
async function waitForRun(id: string): Promise<string> {
  for (let i = 0; i < 300; i++) {
    if ((await backend.summary(id)) !== undefined) return id;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`flow run ${id} never appeared`);
}

describe("squall run --detach", { timeout: 60_000 }, () => {
  it("with --env: checks the flow and its arguments, starts the run on the flow-runner, prints its id and how to follow it, and exits 0", async () => {
    const started = await squall("run", `${FLOWS}:greetings`, "--params", '[["ford"]]', "--env", "--detach");

    expect(started.code).toBe(0);
    const id = started.stdout.trim();
    expect(id).toMatch(UUID);
    expect(started.stderr).toBe(
      [
        `squall: started flow 'greetings' on the kept local environment as flow run ${id}`,
        `squall: follow it with  squall logs --follow ${id} --env`,
        `squall: cancel it with  squall cancel ${id} --env`,
        "",
      ].join("\n"),
    );
    expect(await finalState(id)).toBe("Completed");
  });

  it("with --stack: finds the flow-runner in the stack's outputs", async () => {
    const started = await squall(
      "run",
      `${FLOWS}:greetings`,
      "--params",
      '[["zaphod"]]',
      "--stack",
      "Squall",
      "--endpoint",
      stack.endpoint,
      "--detach",
    );

    expect(started.code).toBe(0);
    const id = started.stdout.trim();
    expect(started.stderr).toContain(
      `squall: follow it with  squall logs --follow ${id} --stack Squall --endpoint ${stack.endpoint}\n`,
    );
    expect(await finalState(id)).toBe("Completed");
  });

  it("refuses arguments of the wrong type before starting anything (exit 2)", async () => {
    const runs = (await backend.list()).length;

    const started = await squall("run", `${FLOWS}:greetings`, "--params", "[42]", "--env", "--detach");

    expect(started.code).toBe(2);
    expect(started.stdout).toBe("");
    expect(started.stderr).toBe(
      `squall: --params does not fit flow 'greetings': names (argument 1) must be string[], got 42, as declared at ${FLOWS}:13.\n`,
    );
    expect((await backend.list()).length).toBe(runs);
  });

  it("refuses a stack without a flow-runner output, and one that does not exist (exit 2)", async () => {
    const bare = await startFakeStack("Bare", local.address);
    try {
      const noOutput = await squall(
        "run",
        `${FLOWS}:greetings`,
        "--params",
        '[["a"]]',
        "--stack",
        "Bare",
        "--endpoint",
        bare.endpoint,
        "--detach",
      );
      const missing = await squall(
        "run",
        `${FLOWS}:greetings`,
        "--params",
        '[["a"]]',
        "--stack",
        "Nowhere",
        "--endpoint",
        bare.endpoint,
        "--detach",
      );

      expect(noOutput).toEqual({
        code: 2,
        stdout: "",
        stderr:
          "squall: Stack 'Bare' has no output FlowRunnerFunctionName: deploy it with a version of squall whose stack has a flow-runner.\n",
      });
      expect(missing.code).toBe(2);
      expect(missing.stderr).toBe(
        "squall: Could not read stack 'Nowhere' (Stack with id Nowhere does not exist). Deploy it with `npx cdk deploy`, or check the region and credentials.\n",
      );
    } finally {
      await bare.close();
    }
  });
});

describe("squall cancel", { timeout: 60_000 }, () => {
  it("writes runs/<id>/cancel with when it was asked, waits until the run ends Cancelled, and exits 0", async () => {
    const { flowRunId } = await startFlowRun(target, "pausing", [8_000]);
    await waitForRun(flowRunId);
    const asked = Date.now();

    const cancelled = await squall("cancel", flowRunId, "--env");

    const request = JSON.parse(text(await store.get(`runs/${flowRunId}/cancel`)) as string);
    expect(Object.keys(request)).toEqual(["requestedAt"]);
    expect(request.requestedAt).toBeGreaterThanOrEqual(asked);
    expect(request.requestedAt).toBeLessThanOrEqual(Date.now());
    expect((await backend.summary(flowRunId))?.state).toBe("Cancelled");
    expect(cancelled.code).toBe(0);
    expect(cancelled.stdout).toBe("");
    expect(cancelled.stderr.split("\n")).toEqual([
      `squall: asked flow run ${flowRunId} to cancel (runs/${flowRunId}/cancel)`,
      "squall: waiting for it to end (Ctrl-C stops waiting; the request stands)…",
      expect.stringMatching(
        new RegExp(`^squall: flow run ('[a-z]+-[a-z]+' \\()?${flowRunId}\\)? ended Cancelled$`),
      ),
      "",
    ]);
  });

  it("waits for a run that ends on its own before it reads the request, says how it ended, and exits 1", async () => {
    const { flowRunId } = await startFlowRun(target, "idling", [3_000]);
    await waitForRun(flowRunId);
    await summaryCounting(flowRunId, 1); // its task run is over: it idles

    const cancelled = await squall("cancel", flowRunId, "--env");

    expect(JSON.parse(text(await store.get(`runs/${flowRunId}/cancel`)) as string)).toEqual({
      requestedAt: expect.any(Number),
    });
    expect((await backend.summary(flowRunId))?.state).toBe("Completed");
    expect(cancelled.code).toBe(1);
    expect(cancelled.stderr.split("\n").at(-2)).toMatch(
      new RegExp(`^squall: flow run ('[a-z]+-[a-z]+' \\()?${flowRunId}\\)? ended Completed$`),
    );
  });

  it("with --no-wait: writes the request and returns 0 at once, saying how to follow the run", async () => {
    const { flowRunId } = await startFlowRun(target, "pausing", [8_000]);
    await waitForRun(flowRunId);

    const cancelled = await squall("cancel", flowRunId, "--env", "--no-wait");

    expect(cancelled.code).toBe(0);
    expect(cancelled.stderr).toContain(`squall logs --follow ${flowRunId} --env\n`);
    expect(JSON.parse(text(await store.get(`runs/${flowRunId}/cancel`)) as string)).toEqual({
      requestedAt: expect.any(Number),
    });
    expect(await finalState(flowRunId)).toBe("Cancelled");
  });

  it("says a run already final is so, writes nothing, and exits 0", async () => {
    const { flowRunId } = await startFlowRun(target, "greetings", [["slartibartfast"]]);
    expect(await finalState(flowRunId)).toBe("Completed");

    const cancelled = await squall("cancel", flowRunId, "--env");

    expect(cancelled.code).toBe(0);
    expect(cancelled.stderr).toMatch(
      new RegExp(
        `^squall: flow run ('[a-z]+-[a-z]+' \\()?${flowRunId}\\)? is already Completed: nothing to cancel.\\n$`,
      ),
    );
    expect(await store.get(`runs/${flowRunId}/cancel`)).toBeUndefined();
    const onStack = await squall("cancel", flowRunId, "--stack", "Squall", "--endpoint", stack.endpoint);
    expect(onStack.code).toBe(0);
    expect(onStack.stderr).toBe(cancelled.stderr);
    expect(await store.get(`runs/${flowRunId}/cancel`)).toBeUndefined();
  });

  it("with --stack: writes the request in the stack's bucket", async () => {
    const { flowRunId } = await startFlowRun(target, "pausing", [8_000]);
    await waitForRun(flowRunId);

    const cancelled = await squall(
      "cancel",
      flowRunId,
      "--stack",
      "Squall",
      "--endpoint",
      stack.endpoint,
      "--no-wait",
    );

    expect(cancelled.code).toBe(0);
    expect(cancelled.stderr).toBe(
      [
        `squall: asked flow run ${flowRunId} to cancel (runs/${flowRunId}/cancel)`,
        `squall: it cancels once its flow-runner reads the request; follow it with  squall logs --follow ${flowRunId} --stack Squall --endpoint ${stack.endpoint}`,
        "",
      ].join("\n"),
    );
    expect(JSON.parse(text(await store.get(`runs/${flowRunId}/cancel`)) as string)).toEqual({
      requestedAt: expect.any(Number),
    });
    expect(await finalState(flowRunId)).toBe("Cancelled");
  });

  it("refuses a run id the bucket does not have (exit 2)", async () => {
    const cancelled = await squall("cancel", "00000000-0000-4000-8000-000000000000", "--env");

    expect(cancelled.code).toBe(2);
    expect(cancelled.stderr).toBe(
      `squall: No flow run \`00000000-0000-4000-8000-000000000000\` in the local environment (bucket ${local.address.bucket}): \`squall runs --env\` lists them (by id, or name such as \`witty-otter\`).\n`,
    );
  });
});
