import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type LocalEnvironment, startLocalEnvironment } from "squall/aws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { shortId } from "../../sdk/cli/format.js";
import { LocalRunBackend } from "../../sdk/records/local-backend.js";
import { readDetail } from "../../sdk/records/reading.js";
import { type FakeStack, startFakeStack } from "../support/fake-stack.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const FLOWS = "test/fixtures/cli-flows.ts";
const HOME = mkdtempSync(join(tmpdir(), "squall-cli-"));

afterAll(() => rmSync(HOME, { recursive: true, force: true }));

interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The child's environment: the record in HOME, no colours, not CI (output is piped, so plain lines). */
function environment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, SQUALL_HOME: HOME, NO_COLOR: "1" };
  delete env.FORCE_COLOR;
  delete env.CI;
  return env;
}

/** Runs `squall <args>` as `npx squall` would, from the repository root. */
function squall(...args: string[]): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["sdk/cli/squall.js", ...args],
      { cwd: ROOT, env: environment(), timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function start(...args: string[]): ChildProcess {
  return spawn(process.execPath, ["sdk/cli/squall.js", ...args], { cwd: ROOT, env: environment() });
}

const lines = (text: string) => text.split("\n").filter((line) => line !== "");
// biome-ignore lint/suspicious/noControlCharactersInRegex: looks for terminal control sequences
const ESCAPES = /\u001b\[/;

/** The record lines of a flow run, parsed. */
function recordOf(id: string): Record<string, unknown>[] {
  const text = readFileSync(join(HOME, "runs", id, "events.jsonl"), "utf8");
  return lines(text).map((line) => JSON.parse(line));
}

/** The flow run id the plain lines of `squall run` name. */
function runIdOf(stderr: string): string {
  const match = stderr.match(/squall: flow run '[a-z]+-[a-z]+' \(([0-9a-f-]{36})\) of flow/);
  if (!match?.[1]) throw new Error(`No flow run id in:\n${stderr}`);
  return match[1];
}

describe("squall run", { timeout: 30_000 }, () => {
  it("runs a flow of a module that calls it at top level, prints its result, records it, and exits 0", async () => {
    const { code, stdout, stderr } = await squall(
      "run",
      `${FLOWS}:greetings`,
      "--params",
      '[["arthur","ford"]]',
    );

    expect(code).toBe(0);
    // The module's own top-level call and the code after it did not run.
    expect(stdout).not.toContain("top-level call");
    expect(stdout).not.toContain("only when the module is run directly");
    expect(lines(stdout).slice(0, 2)).toEqual(["hello arthur", "hello ford"]);
    expect(JSON.parse(lines(stdout).slice(2).join("\n"))).toEqual(["hello arthur", "hello ford"]);
    // Outside a terminal: plain lines, no live display.
    expect(stderr).not.toMatch(ESCAPES);
    expect(stderr).toMatch(/^squall: Flow run '[a-z]+-[a-z]+' Completed in /m);
    expect(stderr).toMatch(/^squall: task runs: 0 pending, 0 running, 2 completed, 0 failed · /m);

    const id = runIdOf(stderr);
    const record = recordOf(id);
    expect(record[0]).toMatchObject({
      kind: "meta",
      flowRunId: id,
      flowName: "greetings",
      file: FLOWS,
      // The flow's own runner, by name.
      runner: "sequential",
      params: [["arthur", "ford"]],
    });
    expect(record.filter((line) => line.kind === "flow").map((line) => line.state)).toEqual([
      "Running",
      "Completed",
    ]);
    const greetRuns = record.filter((line) => line.kind === "task" && line.state === "Completed");
    expect(greetRuns.map((line) => line.name)).toEqual(["greet-0", "greet-1"]);
    expect(record).toContainEqual(
      expect.objectContaining({
        kind: "print",
        stream: "stdout",
        text: "hello arthur",
        taskRunId: greetRuns[0]?.id,
      }),
    );
    expect(record).toContainEqual(
      expect.objectContaining({
        kind: "log",
        level: "INFO",
        message: "greeted ford",
        taskRunName: "greet-1",
      }),
    );
  });

  it("exits 1 for a run that fails, and show prints its task runs with states, attempts and errors with stacks", async () => {
    const run = await squall("run", `${FLOWS}:failing`, "--params", '"no stock"');
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^squall: Flow run '([a-z]+-[a-z]+)' Failed in .*: TaskRunsFailedError: /m);
    // Under the counts, a line per task name: its counts, time and throughput.
    const time = String.raw`(\d+ ms|\d+\.\d\d s)`;
    const rate = String.raw`\d+(\.\d)? task runs/s`;
    const summary = lines(run.stderr).slice(-4, -1);
    expect(summary[0]).toMatch(/^squall: task runs: 0 pending, 0 running, 1 completed, 1 failed · /);
    expect(summary[1]).toMatch(new RegExp(`^squall:   greet  1 completed, 0 failed · ${time} · ${rate}$`));
    expect(summary[2]).toMatch(new RegExp(`^squall:   boom   0 completed, 1 failed · ${time} · ${rate}$`));
    const id = runIdOf(run.stderr);

    const shown = await squall("show", id.slice(0, 8));
    expect(shown.code).toBe(0);
    const out = shown.stdout;
    expect(out).toMatch(/^Flow run '[a-z]+-[a-z]+' of flow 'failing': Failed$/m);
    expect(out).toContain(`  id         ${id}`);
    // A flow with no runner of its own runs on the default one.
    expect(out).toContain("  runner     concurrent\n");
    expect(out).toContain('  params     ["no stock"]');
    expect(out).toMatch(/^TASK RUN +TASK +STATE +DURATION +ATTEMPTS$/m);
    expect(out).toMatch(/^greet-0 +greet +Completed +\d+ ms +1$/m);
    expect(out).toMatch(/^boom-0 +boom +Failed +\d+ ms +2$/m);
    expect(out).toContain("  boom-0 (Failed after 2 attempts)\n    Error: boom: no stock\n        at boom (");
    expect(out).toContain("cli-flows.ts:");

    const logs = await squall("logs", id);
    expect(logs.code).toBe(0);
    expect(lines(logs.stdout)).toContain("hello doomed");
    expect(logs.stdout).toMatch(/^\d\d:\d\d:\d\d\.\d{3} \| INFO {5}\| Task run 'greet-0' - greeted doomed$/m);
    expect(logs.stdout).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} \| ERROR {4}\| Task run 'boom-0' - Finished in state Failed/m,
    );
    expect(logs.stdout).toMatch(/\| Flow run '[a-z]+-[a-z]+' - Finished in state Failed/);
  });

  it("runs a flow whose --params fit its declared parameter types", async () => {
    const { code, stdout } = await squall(
      "run",
      `${FLOWS}:labelled`,
      "--params",
      '["x", 2, {"mode": "slow", "tags": ["a", "b"]}]',
    );
    expect(code).toBe(0);
    expect(stdout).toBe('"x x2 slow a+b"\n');
    const defaulted = await squall("run", `${FLOWS}:labelled`, "--params", '["y", 3]');
    expect(defaulted.code).toBe(0);
    expect(defaulted.stdout).toBe('"y x3 fast"\n');
  });

  it("records a subflow's runs in its top-level flow run's record", async () => {
    const { code, stderr } = await squall("run", `${FLOWS}:parent`, "--params", '[["zaphod"]]');
    expect(code).toBe(0);
    const id = runIdOf(stderr);
    const detail = await readDetail(new LocalRunBackend(HOME), id);
    expect(detail.subflows).toEqual([
      expect.objectContaining({ flowName: "greetings", parentFlowRunId: id, state: "Completed" }),
    ]);
    const subflowId = detail.subflows[0]?.id;
    expect(detail.tasks.map((task) => [task.name, task.flowRunId === subflowId])).toEqual([
      ["greet-0", true],
      ["greet-0", false],
    ]);
    expect(existsSync(join(HOME, "runs", subflowId as string))).toBe(false);
  });

  it.each([
    [["run", "test/fixtures/nowhere.ts:greetings"], /^squall: There is no file test\/fixtures\/nowhere\.ts /],
    [
      ["run", `${FLOWS}:nope`],
      /^squall: test\/fixtures\/cli-flows\.ts defines no flow named 'nope'; it defines 'greetings', /,
    ],
    [["run", FLOWS], /^squall: Expected <file>:<flow>, such as /],
    [
      ["run", `${FLOWS}:greetings`, "--params", "[1,"],
      /^squall: --params is not JSON \(.*\): give a JSON array /,
    ],
    [
      ["run", `${FLOWS}:greetings`, "--params", '["a","b"]'],
      /^squall: Flow 'greetings' takes 1 argument \(names\), got 2 .*wrap it: --params '\[\["a","b"\]\]'\.$/m,
    ],
    [
      ["run", `${FLOWS}:napping`],
      /^squall: Flow 'napping' takes 2 arguments \(count, ms\), and none were given/,
    ],
    [
      ["run", "test/fixtures/commented-params.js:commented"],
      /^squall: Flow 'commented' takes 1 to 2 arguments \(first, second\), and none were given: /,
    ],
    [
      ["run", "test/fixtures/commented-params.js:commented", "--params", "[1,2,3]"],
      /^squall: Flow 'commented' takes 1 to 2 arguments \(first, second\), got 3 from --params '\[1,2,3\]': give a JSON array with one value per argument\.\n$/,
    ],
    [
      ["run", `${FLOWS}:labelled`, "--params", "[3, 2]"],
      /^squall: --params does not fit flow 'labelled': label \(argument 1\) must be string, got 3, as declared at test\/fixtures\/cli-flows\.ts:54\.\n$/,
    ],
    [
      ["run", `${FLOWS}:labelled`, "--params", '["x", "2"]'],
      /^squall: --params does not fit flow 'labelled': count \(argument 2\) must be number, got "2", as declared at test\/fixtures\/cli-flows\.ts:55\.\n$/,
    ],
    [
      ["run", `${FLOWS}:labelled`, "--params", '["x", 2, {"mode": "medium"}]'],
      /^squall: --params does not fit flow 'labelled': options\.mode \(argument 3\) must be "fast" \| "slow", got "medium", as declared at test\/fixtures\/cli-flows\.ts:56\.\n$/,
    ],
    [
      ["run", `${FLOWS}:labelled`, "--params", '["x", 2, {"mode": "slow", "tags": ["a", 1]}]'],
      /^squall: --params does not fit flow 'labelled': options\.tags\[1\] \(argument 3\) must be string, got 1, as declared at test\/fixtures\/cli-flows\.ts:56\.\n$/,
    ],
    [
      ["run", `${FLOWS}:labelled`, "--params", '["x", 2, {"tags": []}]'],
      /^squall: --params does not fit flow 'labelled': options\.mode \(argument 3\) must be "fast" \| "slow", got nothing, as declared at test\/fixtures\/cli-flows\.ts:56\.\n$/,
    ],
    [
      ["run", `${FLOWS}:greetings`, "--runner", "dask"],
      /^squall: option '--runner <runner>' argument 'dask' is invalid/,
    ],
    [
      ["run", `${FLOWS}:greetings`, "--stack", "Nope", "--runner", "threads"],
      /^squall: --stack runs tasks on /,
    ],
    [
      ["run", `${FLOWS}:greetings`, "--stack", "Nope", "--endpoint", "http://127.0.0.1:9"],
      /^squall: Could not read stack 'Nope' \(.*\)\. Deploy it with `npx cdk deploy`, or check the region and credentials\.$/m,
    ],
    [
      ["dashboard", "--stack", "Nope", "--endpoint", "http://127.0.0.1:9"],
      /^squall: Could not read stack 'Nope' \(.*\)\. Deploy it with `npx cdk deploy`, or check the region and credentials\.$/m,
    ],
    [
      ["run", "test/fixtures/twin-flows.ts:twin"],
      /^squall: test\/fixtures\/twin-flows\.ts: Two different flows are named 'twin': give one of them another name/,
    ],
    [["show", "no-such-run"], /^squall: No flow run `no-such-run` is recorded in /],
    [
      ["run", `${FLOWS}:greetings`, "--detach"],
      /^squall: --detach starts the run on a flow-runner, which lives on a deployed stack or a kept local environment: add --stack <name>, or --env \(squall env start --flows <module>\)\. Without --detach, squall run runs the flow here\.\n$/,
    ],
    [
      ["run", `${FLOWS}:greetings`, "--env"],
      /^squall: --env with squall run starts a detached run on the kept local environment's flow-runner: add --detach\. /,
    ],
    [
      ["run", `${FLOWS}:greetings`, "--detach", "--stack", "Squall", "--runner", "threads"],
      /^squall: --runner picks the task runner of a run in this process; a detached run's flow runs on the flow-runner, with the flow's own runner: leave --runner out\.\n$/,
    ],
    [["cancel", "no-such-run"], /^squall: No flow run `no-such-run` is recorded in /],
    [["launch"], /^squall: unknown command 'launch'; see squall --help$/m],
  ])("exits 2 for %j with one line saying what is wrong", async (args, message) => {
    const { code, stdout, stderr } = await squall(...(args as string[]));
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(lines(stderr)).toHaveLength(1);
    expect(stderr).toMatch(message);
  });
});

describe("squall run on a module that does not compile", { timeout: 30_000 }, () => {
  it("exits 2 naming the file, line and column and the compiler's message, with the source line", async () => {
    const generated = join(ROOT, "test/fixtures/.generated");
    mkdirSync(generated, { recursive: true });
    writeFileSync(
      join(generated, "does-not-compile.ts"),
      'import { flow } from "squall";\nexport const f = flow(function f(x: number) {\n\treturn x +;\n});\n',
    );
    const { code, stdout, stderr } = await squall("run", "test/fixtures/.generated/does-not-compile.ts:f");
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr.split("\n")).toEqual([
      'squall: Could not load test/fixtures/.generated/does-not-compile.ts: test/fixtures/.generated/does-not-compile.ts:3:12: ERROR: Unexpected ";". Fix the module, or check that it runs: npx tsx test/fixtures/.generated/does-not-compile.ts',
      "  3 |  return x +;",
      "    |            ^",
      "",
    ]);
  });
});

describe("squall runs, show, logs", { timeout: 30_000 }, () => {
  it("lists the recorded runs newest first, and finds one by name", async () => {
    const { code, stdout } = await squall("runs");
    expect(code).toBe(0);
    const [header, ...rows] = lines(stdout);
    expect(header).toMatch(/^ID +NAME +FLOW +STATE +STARTED +DURATION +TASK RUNS$/);
    const runs = await new LocalRunBackend(HOME).list();
    expect(rows).toHaveLength(runs.length);
    expect(runs.map((run) => run.startedAt)).toEqual(runs.map((run) => run.startedAt).sort((a, b) => b - a));
    const failed = runs.find((run) => run.flowName === "failing");
    expect(rows).toContainEqual(
      expect.stringMatching(
        new RegExp(
          `^${failed?.id.slice(0, 8)} +${failed?.name} +failing +Failed +.*2: 1 completed, 1 failed$`,
        ),
      ),
    );
    expect(failed?.counts).toEqual({
      pending: 0,
      running: 0,
      completed: 1,
      failed: 1,
      crashed: 0,
      cancelled: 0,
    });

    // Names are drawn at random: another run of this file's record may share it, and then the
    // name alone cannot find it.
    const byName = await squall("show", failed?.name as string);
    const named = runs.filter((run) => run.name === failed?.name);
    if (named.length === 1) expect(byName.stdout).toContain(`  id         ${failed?.id}`);
    else expect(byName.stderr).toContain(`${named.length} flow runs are named '${failed?.name}'`);
  });

  it("logs --follow prints the lines of a run still going, and ends when it is final", async () => {
    const run = start("run", `${FLOWS}:napping`, "--params", "[5, 300]");
    const ended = new Promise<number>((resolve) => run.on("exit", (code) => resolve(code ?? -1)));
    let runErr = "";
    run.stderr?.on("data", (chunk) => {
      runErr += chunk;
    });
    await until(() => /\(([0-9a-f-]{36})\) of flow/.test(runErr));
    const id = runIdOf(runErr);

    const follower = start("logs", "--follow", id);
    let followed = "";
    let runEndedBeforeFirstNap: boolean | undefined;
    let runOver = false;
    void ended.then(() => {
      runOver = true;
    });
    follower.stdout?.on("data", (chunk) => {
      followed += chunk;
      if (runEndedBeforeFirstNap === undefined && followed.includes("napped 300 ms")) {
        runEndedBeforeFirstNap = runOver;
      }
    });
    const followerCode = await new Promise<number>((resolve) =>
      follower.on("exit", (code) => resolve(code ?? -1)),
    );

    expect(await ended).toBe(0);
    expect(followerCode).toBe(0);
    expect(runEndedBeforeFirstNap).toBe(false);
    expect(lines(followed).filter((line) => line === "napped 300 ms")).toHaveLength(5);
    expect(followed).toMatch(/Flow run '[a-z]+-[a-z]+' - Finished in state Completed\(\)/);
  });
});

describe("squall cancel on the local record", { timeout: 30_000 }, () => {
  it("says plainly that it cancels runs in a bucket, and exits 2 without touching the record", async () => {
    const [run] = await new LocalRunBackend(HOME).list();
    const id = (run as { id: string }).id;
    const before = readFileSync(join(HOME, "runs", id, "events.jsonl"), "utf8");

    const { code, stdout, stderr } = await squall("cancel", id);

    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toBe(
      `squall: Flow run ${id} is in the local record (${HOME}): its flow runs in the process that started it, and only Ctrl-C there cancels it. squall cancel cancels runs in a bucket: a deployed stack's (--stack <name>) or the kept local environment's (--env).\n`,
    );
    expect(readFileSync(join(HOME, "runs", id, "events.jsonl"), "utf8")).toBe(before);
  });
});

describe("squall run stopped early", { timeout: 30_000 }, () => {
  /** Starts a long run; resolves once it has begun, with its id and how it exits. */
  async function longRun(through?: "npx") {
    const args = ["run", `${FLOWS}:napping`, "--params", "[50, 200]"];
    // Through npx in a process group of its own, as a terminal runs it; Ctrl-C goes to the group.
    const run =
      through === "npx"
        ? spawn("npx", ["squall", ...args], { cwd: ROOT, env: environment(), detached: true })
        : start(...args);
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      run.on("exit", (code, signal) => resolve({ code, signal })),
    );
    let stderr = "";
    run.stderr?.on("data", (chunk) => {
      stderr += chunk;
    });
    await until(() => /\(([0-9a-f-]{36})\) of flow/.test(stderr), 20_000);
    const id = runIdOf(stderr);
    // Under way: its first nap is in the record.
    await until(() => existsSync(join(HOME, "runs", id, "events.jsonl")) && recordOf(id).some(isNap), 20_000);
    return { run, exited, id, stderr: () => stderr };
  }
  const isNap = (line: Record<string, unknown>) => line.kind === "print" && line.text === "napped 200 ms";
  const flowStates = (id: string) =>
    recordOf(id)
      .filter((line) => line.kind === "flow")
      .map((line) => line.state);

  it("cancels the flow run on Ctrl-C, records it Cancelled, and then ends by SIGINT (the shell's 130)", async () => {
    const { run, exited, id, stderr } = await longRun();
    run.kill("SIGINT");
    expect(await exited).toEqual({ code: null, signal: "SIGINT" });
    expect(stderr()).toContain("squall: cancelling the flow run (Ctrl-C again to stop at once)");
    expect(stderr()).toMatch(/^squall: Flow run '[a-z]+-[a-z]+' Cancelled in .*: CancelledError: /m);
    expect(flowStates(id)).toEqual(["Running", "Cancelled"]);
  });

  it("ends the same way through npx when Ctrl-C reaches the whole process group", async () => {
    const { run, exited, id, stderr } = await longRun("npx");
    process.kill(-(run.pid as number), "SIGINT");
    expect(await exited).toEqual({ code: null, signal: "SIGINT" });
    expect(stderr()).toContain("squall: cancelling the flow run (Ctrl-C again to stop at once)");
    expect(flowStates(id)).toEqual(["Running", "Cancelled"]);
  });

  it("cancels the flow run on SIGTERM, records it Cancelled, and then ends by SIGTERM (the shell's 143)", async () => {
    const { run, exited, id, stderr } = await longRun();
    run.kill("SIGTERM");
    expect(await exited).toEqual({ code: null, signal: "SIGTERM" });
    expect(stderr()).toContain("squall: cancelling the flow run (SIGTERM again to stop at once)");
    expect(flowStates(id)).toEqual(["Running", "Cancelled"]);
    // Counts and time, and no throughput: a cancelled run's says nothing.
    expect(lines(stderr())).toContainEqual(
      expect.stringMatching(
        /^squall: task runs: 0 pending, 0 running, \d+ completed, 0 failed, 1 cancelled · (\d+ ms|\d+\.\d\d s)$/,
      ),
    );
  });

  it("ends the record of a run whose process ended before it did Crashed", async () => {
    const { code, stderr } = await squall("run", `${FLOWS}:quitting`);
    expect(code).toBe(3);
    const id = runIdOf(stderr);
    expect(flowStates(id)).toEqual(["Running", "Crashed"]);
    expect(recordOf(id).at(-1)).toMatchObject({
      kind: "flow",
      state: "Crashed",
      error: { name: "CrashedError", message: "The process running the flow run ended before it did." },
    });
    expect((await readDetail(new LocalRunBackend(HOME), id)).flowRun.state).toBe("Crashed");
    // `squall runs` says why, under its table.
    const runs = await squall("runs");
    expect(runs.stdout.split("\n")).toContain(
      `${shortId(id)} Crashed: The process running the flow run ended before it did.`,
    );
  });
});

describe("squall run --runner", { timeout: 30_000 }, () => {
  it("lambda runs the tasks on the local environment and records them", async () => {
    const { code, stdout, stderr } = await squall(
      "run",
      `${FLOWS}:greetings`,
      "--params",
      '[["trillian","marvin"]]',
      "--runner",
      "lambda",
    );
    expect(code).toBe(0);
    expect(lines(stdout).slice(0, 2).sort()).toEqual(["hello marvin", "hello trillian"]);
    // It says it starts the local environment (it takes a second or two), then where the runs go;
    // runs on the queue are counted sent, not running: the caller cannot tell them apart.
    const said = lines(stderr).filter((line) => line.startsWith("squall: "));
    expect(said.slice(1, 3).join("\n")).toMatch(
      /^squall: starting the local environment…\nsquall: task runs go to a local environment of this flow run's at http:\/\/127\.0\.0\.1:\d+, bucket [a-z0-9-]+$/,
    );
    expect(said).toContainEqual(
      expect.stringMatching(/^squall: task runs: 0 pending, 0 sent, 2 completed, 0 failed · /),
    );
    const detail = await readDetail(new LocalRunBackend(HOME), runIdOf(stderr));
    expect(detail.meta?.runner).toBe("lambda");
    expect(detail.tasks.map((task) => [task.name, task.state])).toEqual([
      ["greet-0", "Completed"],
      ["greet-1", "Completed"],
    ]);
    expect(detail.logs).toContainEqual(expect.objectContaining({ kind: "print", text: "hello marvin" }));
  });

  it("threads ends a run whose task fails in a thread Failed, and exits 1", async () => {
    const { code, stderr } = await squall(
      "run",
      `${FLOWS}:failing`,
      "--params",
      '"threads"',
      "--runner",
      "threads",
    );
    expect(code).toBe(1);
    const detail = await readDetail(new LocalRunBackend(HOME), runIdOf(stderr));
    expect(detail.meta?.runner).toBe("threads");
    expect(detail.tasks.find((task) => task.task === "boom")).toMatchObject({
      state: "Failed",
      attempts: 2,
      error: { name: "Error", message: "boom: threads" },
      worker: expect.stringMatching(/^thread \d+$/),
    });
  });
});

describe("squall --stack", { timeout: 30_000 }, () => {
  let local: LocalEnvironment;
  let stack: FakeStack;

  beforeAll(async () => {
    // A local environment's worker fleet behind a stack named SquallCli, as a deployed one would be.
    local = await startLocalEnvironment();
    stack = await startFakeStack("SquallCli", local.address);
  }, 30_000);

  afterAll(async () => {
    await stack?.close();
    await local?.stop();
  });

  it("runs the tasks on the stack's functions, and runs, show and logs read the run from its bucket", async () => {
    const where = ["--stack", "SquallCli", "--endpoint", stack.endpoint];
    const run = await squall("run", `${FLOWS}:failing`, "--params", '"deployed"', ...where);
    expect(run.code).toBe(1);
    const id = runIdOf(run.stderr);
    expect((await readDetail(new LocalRunBackend(HOME), id)).meta?.runner).toBe("lambda");

    const runs = await squall("runs", ...where);
    expect(runs.code).toBe(0);
    expect(lines(runs.stdout)).toContainEqual(
      expect.stringMatching(
        new RegExp(`^${id.slice(0, 8)} +[a-z]+-[a-z]+ +failing +Failed +.*2: 1 completed, 1 failed$`),
      ),
    );

    const shown = await squall("show", id.slice(0, 8), ...where);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^Flow run '[a-z]+-[a-z]+' of flow 'failing': Failed$/m);
    // Each task run with the Lambda execution environment that ran it, named by its log stream.
    const worker = String.raw`\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}`;
    expect(shown.stdout).toMatch(/^TASK RUN +TASK +STATE +DURATION +ATTEMPTS +WORKER$/m);
    expect(shown.stdout).toMatch(
      new RegExp(String.raw`^greet-0 +greet +Completed +\d+ ms +1 +${worker}$`, "m"),
    );
    // A task run that logged nothing is known in the bucket by its id only.
    expect(shown.stdout).toMatch(new RegExp(String.raw` Failed +\d+ ms +2 +${worker}$`, "m"));
    expect(shown.stdout).toContain("    Error: boom: deployed\n        at boom (");

    const logs = await squall("logs", id, ...where);
    expect(logs.code).toBe(0);
    expect(lines(logs.stdout)).toContain("hello doomed");

    // A stack whose bucket is gone (or may not be read): one line, exit 2.
    const gone = await startFakeStack("SquallGone", { ...local.address, bucket: "squall-no-such-bucket" });
    try {
      const refused = await squall("runs", "--stack", "SquallGone", "--endpoint", gone.endpoint);
      expect(refused.code).toBe(2);
      expect(lines(refused.stderr)).toHaveLength(1);
      expect(refused.stderr).toMatch(
        /^squall: Could not read the flow runs in stack 'SquallGone' \(bucket squall-no-such-bucket\): .*\. Check that the credentials may list and read the bucket/,
      );
    } finally {
      await gone.close();
    }

    const missing = await squall("show", "no-such-run", ...where);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(
      /^squall: No flow run `no-such-run` in stack 'SquallCli' \(bucket .*\): `squall runs --stack \.\.\.` lists them/,
    );
    expect(logs.stdout).toMatch(/\| INFO {5}\| Task run 'greet-0' - greeted doomed$/m);
  });
});

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("Timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
