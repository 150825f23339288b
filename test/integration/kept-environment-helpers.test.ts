import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { configureLogging, type FlowRunState, flow, resetLogging, type Task } from "squall";
import { LambdaTaskRunner, type LocalEnvironment, startLocalEnvironment } from "squall/aws";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { sleep } from "../support/async.js";

// A local environment kept across flow runs replaces its worker and flow-runner threads when a
// project file they imported changes, not only a task module: a helper module a task (or a flow)
// imports, edited between runs, runs as it is now. A run in progress when the file changes ends
// with the code it started with.

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** The task module and its helper, written for this run in a folder under the project. */
const DIR = join(ROOT, "test", `.tmp-reload-${randomBytes(4).toString("hex")}`);
const HELPER = join(DIR, "helper.ts");
const STARTED = join(DIR, "started");
const GO = join(DIR, "go");

const helperSource = (greeting: string) => `export const greeting = "${greeting}";\n`;

const TASKS = `// Written by test/integration/kept-environment-helpers.test.ts.
import { existsSync, writeFileSync } from "node:fs";
import { task } from "squall";
import { greeting } from "./helper.ts";

export const greet = task(function greet(name: string) {
  return \`\${greeting} \${name}\`;
});

/** Greets once the test lets it go; tells the test it started. */
export const greetLater = task(async function greetLater(name: string) {
  writeFileSync(${JSON.stringify(STARTED)}, "");
  while (!existsSync(${JSON.stringify(GO)})) await new Promise((resolve) => setTimeout(resolve, 20));
  return \`\${greeting} \${name}\`;
});
`;

/** A flow the flow-runner runs by name, in its own thread, with the same helper. */
const FLOWS = `// Written by test/integration/kept-environment-helpers.test.ts.
import { flow } from "squall";
import { greeting } from "./helper.ts";

export const salute = flow(function salute(name: string) {
  return \`\${greeting} \${name}\`;
});
`;

let local: LocalEnvironment;
let lambda: LambdaClient;
let greet: Task<[string], string>;
let greetLater: Task<[string], string>;
let greeting: (names: string[]) => Promise<FlowRunState<string[]>>;
let greetingLater: (name: string) => Promise<FlowRunState<string>>;

beforeAll(async () => {
  mkdirSync(DIR, { recursive: true });
  writeFileSync(HELPER, helperSource("hello"));
  writeFileSync(join(DIR, "tasks.ts"), TASKS);
  writeFileSync(join(DIR, "flows.ts"), FLOWS);
  ({ greet, greetLater } = await import(pathToFileURL(join(DIR, "tasks.ts")).href));
  local = await startLocalEnvironment({ workers: 2, projectRoot: ROOT, flows: join(DIR, "flows.ts") });
  lambda = new LambdaClient({
    endpoint: local.address.endpoint,
    region: local.address.region,
    credentials: { accessKeyId: "squall-local", secretAccessKey: "squall-local" },
  });
  const runner = new LambdaTaskRunner(local.address);
  const greetingFlow = flow({ taskRunner: runner }, async function greeting(names: string[]) {
    return greet.map(names).result();
  });
  const laterFlow = flow({ taskRunner: runner }, async function greetingLater(name: string) {
    return greetLater.submit(name).result();
  });
  greeting = (names) => greetingFlow.run(names);
  greetingLater = (name) => laterFlow.run(name);
}, 30_000);

afterAll(async () => {
  lambda?.destroy();
  await local?.stop();
  rmSync(DIR, { recursive: true, force: true });
});

// Engine log lines are not under test; keep them off stderr.
beforeEach(() => configureLogging({ write: () => {} }));
afterEach(() => resetLogging());

/** The value a completed flow run returned; fails the test for any other state. */
function resultOf<R>(state: FlowRunState<R>): R {
  if (state.type !== "COMPLETED") {
    throw new Error(`Expected a completed flow run, got ${state.name}: ${String(state.error)}`);
  }
  return state.result;
}

/** What the flow-runner answers for `salute(name)`, invoked through Lambda's Invoke API. */
async function salute(name: string): Promise<unknown> {
  const answer = await lambda.send(
    new InvokeCommand({
      FunctionName: local.flowRunnerFunctionName,
      Payload: JSON.stringify({ flow: "salute", parameters: [name] }),
    }),
  );
  return JSON.parse(Buffer.from(answer.Payload ?? new Uint8Array()).toString("utf8"));
}

async function until(condition: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`Not so after ${ms} ms`);
    await sleep(20);
  }
}

describe("a kept local environment whose task imports a project module", { timeout: 60_000 }, () => {
  it("runs the helper as it is now after only the helper was edited", async () => {
    expect(resultOf(await greeting(["ada", "alan"]))).toEqual(["hello ada", "hello alan"]);
    const threads = local.workers().length;

    writeFileSync(HELPER, helperSource("bonjour"));
    expect(resultOf(await greeting(["ada", "alan"]))).toEqual(["bonjour ada", "bonjour alan"]);
    // A worker thread that had loaded the helper is replaced by a fresh one, whether a message
    // reached it first or not.
    await until(() => local.workers().length > threads, 5_000);
  });

  it("lets a run in progress when the helper changes end with the code it started with", async () => {
    const running = greetingLater("grace");
    await until(() => existsSync(STARTED), 20_000);
    writeFileSync(HELPER, helperSource("hola"));
    await sleep(1_500); // the idle worker thread sees the change and makes way for a fresh one
    writeFileSync(GO, "");
    expect(resultOf(await running)).toBe("bonjour grace");

    expect(resultOf(await greeting(["grace"]))).toEqual(["hola grace"]);
  });

  it("has the flow-runner run the helper as it is now too", async () => {
    expect(await salute("ada")).toMatchObject({ state: "Completed", result: "hola ada" });
    writeFileSync(HELPER, helperSource("ciao"));
    expect(await salute("ada")).toMatchObject({ state: "Completed", result: "ciao ada" });
  });
});
