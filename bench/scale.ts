// One flow scaling to a million task runs: what a finished run leaves in the caller's memory,
// and the caller's peak RSS and rate for a flow of many no-op runs read through `mapStream()`,
// against the same flow written with `map()` over an array (what a flow had to do before). Each
// flow runs in a caller process of its own, so that its peak RSS is its own; the Lambda runner's
// callers share one local environment kept in yet another process (bench/scale-environment.ts),
// as a deployed stack would be, and talk to it over 127.0.0.1.
//
// SCALE_RUNS (default 1,000,000) sizes the ConcurrentTaskRunner flows; SCALE_LAMBDA_RUNS
// (default 100,000) the Lambda runner's, which take about a minute per million on two cores;
// SCALE_MAP_RUNS (default 100,000) the `map()` flows they are set against, which hold every run.
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CALLER = fileURLToPath(new URL("./scale-caller.ts", import.meta.url));
const ENVIRONMENT = fileURLToPath(new URL("./scale-environment.ts", import.meta.url));
const RUNS = Number(process.env.SCALE_RUNS ?? 1_000_000);
const LAMBDA_RUNS = Number(process.env.SCALE_LAMBDA_RUNS ?? 100_000);
const MAP_RUNS = Number(process.env.SCALE_MAP_RUNS ?? 100_000);
const MEMORY_RUNS = 100_000;
const IN_FLIGHT = { concurrent: 1000, lambda: 5000 } as const;

/** One caller process's figures. */
export interface CallerFigures {
  readonly kind: "concurrent" | "lambda";
  readonly how: "stream" | "map" | "batches" | "kept";
  readonly count: number;
  readonly maxInFlight: number;
  readonly seconds: number;
  readonly startRss: number;
  readonly peakRss: number;
  readonly bytesPerRun?: number;
}

export interface ScaleResults {
  /** Heap left per finished run, futures let go ("batches") and kept ("kept"), on each runner. */
  readonly memory: readonly CallerFigures[];
  readonly flows: readonly CallerFigures[];
}

function runCaller(
  kind: CallerFigures["kind"],
  count: number,
  how: CallerFigures["how"],
  address?: string,
): Promise<CallerFigures> {
  const child = spawn(
    process.execPath,
    ["--expose-gc", "--import", "tsx", CALLER, kind, String(count), how, String(IN_FLIGHT[kind])],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        ...(address && { SQUALL_BENCH_ADDRESS: address }),
        AWS_ACCESS_KEY_ID: "test",
        AWS_SECRET_ACCESS_KEY: "test",
      },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  let stdout = "";
  child.stdout.on("data", (chunk) => {
    stdout += chunk;
  });
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => {
      const line = stdout.split("\n").find((text) => text.startsWith("{"));
      if (code === 0 && line) resolve(JSON.parse(line) as CallerFigures);
      else reject(new Error(`The ${kind} ${how} caller exited (${code}):\n${stdout}`));
    });
  });
}

/** Starts the kept environment in a process of its own; its address (JSON) and how to stop it. */
async function startEnvironment(): Promise<{ address: string; stop(): Promise<void> }> {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", ENVIRONMENT], {
    cwd: ROOT,
    stdio: ["pipe", "pipe", "inherit"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    child.stdin?.end(); // it stops its environment and exits when its stdin closes
    const timer = setTimeout(() => child.kill("SIGTERM"), 10_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    const address = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout?.on("data", (chunk) => {
        out += chunk;
        const line = out.split("\n").find((text) => text.startsWith("{"));
        if (line) resolve(line);
      });
      void exited.then(() => reject(new Error(`The environment process exited first:\n${out}`)));
    });
    return { address, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

export async function benchScale(): Promise<ScaleResults> {
  const memory: CallerFigures[] = [];
  const flows: CallerFigures[] = [];
  for (const how of ["batches", "kept"] as const)
    memory.push(await runCaller("concurrent", MEMORY_RUNS, how));
  flows.push(await runCaller("concurrent", RUNS, "stream"));
  flows.push(await runCaller("concurrent", MAP_RUNS, "map"));
  const environment = await startEnvironment();
  try {
    const { address } = environment;
    for (const how of ["batches", "kept"] as const)
      memory.push(await runCaller("lambda", MEMORY_RUNS, how, address));
    flows.push(await runCaller("lambda", LAMBDA_RUNS, "stream", address));
    flows.push(await runCaller("lambda", MAP_RUNS, "map", address));
  } finally {
    await environment.stop();
  }
  return { memory, flows };
}

const MB = 1024 * 1024;

export function reportScale(results: ScaleResults): string {
  const runner = (kind: string) =>
    kind === "lambda" ? "LambdaTaskRunner (kept environment)" : "ConcurrentTaskRunner";
  const lines = [
    "| runner | futures | heap per finished run |",
    "|---|---|---|",
    ...results.memory.map(
      (m) =>
        `| ${runner(m.kind)} | ${m.how === "kept" ? "kept" : "let go"} | ${Math.round(m.bytesPerRun ?? 0)} B |`,
    ),
    "",
    "| runner | flow | runs | runs/s | caller peak RSS | above its start | per run |",
    "|---|---|---|---|---|---|---|",
    ...results.flows.map((f) => {
      const flow = f.how === "stream" ? `mapStream(), ${f.maxInFlight} in flight` : "map() over an array";
      const rate = Math.round(f.count / f.seconds).toLocaleString("en-US");
      const perRun = Math.round((f.peakRss - f.startRss) / f.count);
      const above = Math.round((f.peakRss - f.startRss) / MB);
      return `| ${runner(f.kind)} | ${flow} | ${f.count.toLocaleString("en-US")} | ${rate}/s | ${Math.round(f.peakRss / MB)} MB | ${above} MB | ${perRun.toLocaleString("en-US")} B |`;
    }),
  ];
  for (const kind of ["concurrent", "lambda"]) {
    const stream = results.flows.find((f) => f.kind === kind && f.how === "stream");
    const mapped = results.flows.find((f) => f.kind === kind && f.how === "map");
    if (!stream || !mapped) continue;
    const perRun = (f: CallerFigures) => (f.peakRss - f.startRss) / f.count;
    const rate = (f: CallerFigures) => f.count / f.seconds;
    lines.push(
      "",
      `${runner(kind)}: mapStream() over map(): peak RSS growth per run ${(perRun(stream) / perRun(mapped)).toFixed(3)}x, runs/s ${(rate(stream) / rate(mapped)).toFixed(2)}x.`,
    );
  }
  return lines.join("\n");
}
