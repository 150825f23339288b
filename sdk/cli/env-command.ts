// `squall env start|stop|status`: a local environment kept running in a process of its own, for
// the project in the working folder, announced in its squall folder (`.squall/env.json`) so that
// runs, scripts, the CLI's readers and the AWS CLI find it.
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { setTimeout as wait } from "node:timers/promises";
import { fileURLToPath } from "node:url";

// Type-only, and loaded when a command runs: sdk/cli imports squall/aws's modules only dynamically.
type Announcement = import("../aws/local/announcement.js").Announcement;
type LocalEnvironmentOptions = import("../aws/local/environment.js").LocalEnvironmentOptions;
const announcements = () => import("../aws/local/announcement.js");

import { defaultRoot } from "../records/record.js";
import { formatDuration } from "./format.js";
import { UsageError } from "./usage-error.js";

/** How long `start` waits for the environment to announce itself, and `stop` for it to end. */
const START_MS = 60_000;
const STOP_MS = 15_000;

export interface EnvStartOptions {
  readonly port?: string;
  readonly workers?: string;
  /** JSON: `{"large":{"workers":1,"workerTimeoutSeconds":600}}` */
  readonly pools?: string;
  /** The flows module the environment's flow-runner runs (and its schedules start). */
  readonly flows?: string;
  /** A JSON file of schedules, as the stack's `schedules`: `[{ "name", "flow", "cron" | "rate", ... }]`. */
  readonly schedules?: string;
}

const say = (line: string) => process.stderr.write(`${line}\n`);

/** The announcement at `path`, with whether its process still runs. */
async function announced(path: string): Promise<{ announcement: Announcement; runs: boolean } | undefined> {
  const { readAnnouncement, processRuns } = await announcements();
  const announcement = readAnnouncement(path);
  return announcement && { announcement, runs: processRuns(announcement.pid) };
}

function staleLine(path: string, announcement: Announcement): string {
  return `squall: ${path} names a local environment (pid ${announcement.pid}, started ${announcement.startedAt}) that no longer runs`;
}

/** `squall env start`: starts the environment in a detached process and waits for its announcement. */
export async function envStart(options: EnvStartOptions): Promise<number> {
  const port = integer("--port", options.port, 0);
  const workers = integer("--workers", options.workers, 1);
  poolsJson(options.pools);
  await schedulesFile(options);
  const { announcementPath, describeEnvironment, readAnnouncement } = await announcements();
  const folder = defaultRoot();
  const path = announcementPath(folder);
  const found = await announced(path);
  if (found?.runs) {
    say(`squall: a local environment already runs for this project (pid ${found.announcement.pid})`);
    for (const line of describeEnvironment(found.announcement)) say(line);
    return 0;
  }
  if (found) {
    say(`${staleLine(path, found.announcement)}; starting a new one in its place.`);
    rmSync(path, { force: true });
  }
  mkdirSync(folder, { recursive: true });
  const logPath = join(folder, "env.log");
  const log = openSync(logPath, "a");
  const args = ["env", "serve", ...(port !== undefined ? ["--port", String(port)] : [])];
  if (workers !== undefined) args.push("--workers", String(workers));
  if (options.pools !== undefined) args.push("--pools", options.pools);
  if (options.flows !== undefined) args.push("--flows", resolve(options.flows));
  if (options.schedules !== undefined) args.push("--schedules", resolve(options.schedules));
  const child = spawn(process.execPath, [squallScript(), ...args], {
    detached: true,
    stdio: ["ignore", log, log],
    cwd: process.cwd(),
    env: process.env,
  });
  closeSync(log);
  let exited: number | string | null | undefined;
  child.once("exit", (code, signal) => {
    exited = code ?? signal;
  });
  child.unref();
  const until = Date.now() + START_MS;
  while (Date.now() < until) {
    const announcement = readAnnouncement(path);
    if (announcement && announcement.pid === child.pid) {
      say(`squall: local environment started (pid ${announcement.pid}), announced in ${path}`);
      for (const line of describeEnvironment(announcement)) say(line);
      say("  stop it with: squall env stop");
      return 0;
    }
    if (exited !== undefined) break;
    await wait(100);
  }
  if (exited === undefined && child.pid !== undefined) process.kill(child.pid, "SIGTERM");
  say(
    `squall: the local environment did not start (${exited === undefined ? "no announcement in time" : `its process ended with ${exited}`}); its output, ${logPath}:`,
  );
  say(tail(logPath));
  return 1;
}

/** `squall env serve`: what the process `start` starts runs; ends when it is signalled to stop. */
export async function envServe(options: EnvStartOptions): Promise<number> {
  const port = integer("--port", options.port, 0);
  const workers = integer("--workers", options.workers, 1);
  const { serveKeptEnvironment } = await import("../aws/cli/kept-environment.js");
  const { announcementPath, describeEnvironment } = await announcements();
  await serveKeptEnvironment(
    announcementPath(defaultRoot()),
    {
      projectRoot: process.cwd(),
      ...(port !== undefined && { port }),
      ...(workers !== undefined && { workers }),
      ...(options.pools !== undefined && { pools: poolsJson(options.pools) }),
      ...(options.flows !== undefined && { flows: resolve(options.flows) }),
      ...(options.schedules !== undefined && { schedules: await schedulesFile(options) }),
    },
    (announcement) => {
      process.stdout.write(
        `${new Date().toISOString()} squall: local environment up (pid ${announcement.pid})\n`,
      );
      for (const line of describeEnvironment(announcement)) process.stdout.write(`${line}\n`);
    },
  );
  process.stdout.write(`${new Date().toISOString()} squall: local environment stopped\n`);
  return 0;
}

/** `squall env stop`: ends the announced environment's process by its PID, waits, removes the file. */
export async function envStop(): Promise<number> {
  const { announcementPath, readAnnouncement } = await announcements();
  const path = announcementPath(defaultRoot());
  const found = await announced(path);
  if (!found) {
    say(`squall: no local environment is announced in ${path}; nothing to stop.`);
    return 0;
  }
  const { announcement } = found;
  if (!found.runs) {
    rmSync(path, { force: true });
    say(`${staleLine(path, announcement)}; removed the announcement.`);
    return 0;
  }
  process.kill(announcement.pid, "SIGTERM");
  if (!(await ended(announcement.pid, STOP_MS))) {
    say(
      `squall: the local environment (pid ${announcement.pid}) did not stop within ${STOP_MS / 1000} s; killing it.`,
    );
    process.kill(announcement.pid, "SIGKILL");
    await ended(announcement.pid, STOP_MS);
  }
  if (readAnnouncement(path)?.pid === announcement.pid) rmSync(path, { force: true });
  say(`squall: stopped the local environment (pid ${announcement.pid}).`);
  return 0;
}

/** `squall env status`: whether it runs, where, for how long, and what it holds; exit 1 when none runs. */
export async function envStatus(): Promise<number> {
  const { announcementPath, describeEnvironment } = await announcements();
  const path = announcementPath(defaultRoot());
  const found = await announced(path);
  if (!found) {
    say(
      `squall: no local environment runs for this project (none announced in ${path}); start one with: squall env start`,
    );
    return 1;
  }
  const { announcement } = found;
  if (!found.runs) {
    say(`${staleLine(path, announcement)}; squall env start starts a new one in its place.`);
    return 1;
  }
  const up = formatDuration(Date.now() - Date.parse(announcement.startedAt));
  say(
    `squall: local environment running (pid ${announcement.pid}), up ${up}, for ${announcement.projectRoot}`,
  );
  for (const line of describeEnvironment(announcement)) say(line);
  const { environmentCounts } = await import("../aws/cli/kept-environment.js");
  try {
    const counts = await environmentCounts(announcement);
    for (const queue of counts.queues) {
      say(`  ${`${queue.name}:`.padEnd(14)}${queue.waiting} waiting, ${queue.inFlight} in flight`);
    }
    say(`  ${"runs:".padEnd(14)}${counts.runs} in the bucket`);
  } catch (error) {
    say(`squall: could not read the environment's queues and bucket: ${(error as Error).message}`);
    return 1;
  }
  return 0;
}

/** The announced environment the readers' `--env` names, or a `UsageError` saying why there is none. */
export async function announcedForReading(): Promise<Announcement> {
  const { announcementPath } = await announcements();
  const path = announcementPath(defaultRoot());
  const found = await announced(path);
  if (!found) {
    throw new UsageError(
      `--env reads the local environment squall env start keeps, and none is announced in ${path}: start one with squall env start.`,
    );
  }
  if (!found.runs)
    throw new UsageError(
      `${staleLine(path, found.announcement).replace(/^squall: /, "")}: start one with squall env start.`,
    );
  return found.announcement;
}

async function ended(pid: number, ms: number): Promise<boolean> {
  const { processRuns } = await announcements();
  const until = Date.now() + ms;
  while (processRuns(pid)) {
    if (Date.now() >= until) return false;
    await wait(50);
  }
  return true;
}

/** The pools `--pools` names, as JSON; the environment checks each. */
function poolsJson(text: string | undefined): LocalEnvironmentOptions["pools"] {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as LocalEnvironmentOptions["pools"];
  } catch {
    throw new UsageError(
      `Expected --pools to be JSON naming the worker pools, e.g. {"large":{"workers":1,"workerTimeoutSeconds":600}}, got \`${text}\`.`,
    );
  }
}

/**
 * The schedules `--schedules` names, read and checked (a `UsageError` saying what is wrong), as
 * the stack's `schedules` are at synth; they need `--flows`, whose flows they start.
 */
async function schedulesFile(options: EnvStartOptions): Promise<LocalEnvironmentOptions["schedules"]> {
  if (options.schedules === undefined) return undefined;
  if (options.flows === undefined) {
    throw new UsageError(
      "--schedules starts flows through the environment's flow-runner: give the flows module with --flows too.",
    );
  }
  let schedules: LocalEnvironmentOptions["schedules"];
  try {
    schedules = JSON.parse(readFileSync(options.schedules, "utf8"));
  } catch (error) {
    throw new UsageError(
      `Expected --schedules to name a JSON file of schedules, [{ "name": ..., "flow": ..., "cron" | "rate": ... }], but ${options.schedules}: ${(error as Error).message}`,
    );
  }
  const { checkSchedules } = await import("../aws/schedules/definition.js");
  try {
    checkSchedules(schedules, { allowSeconds: true });
  } catch (error) {
    throw new UsageError(`${options.schedules}: ${(error as Error).message}`);
  }
  return schedules;
}

function integer(flag: string, text: string | undefined, min: number): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min) {
    throw new UsageError(`Expected ${flag} to be an integer >= ${min}, got \`${text}\`.`);
  }
  return value;
}

/** The `squall` script, from the source tree or from dist/ (which sits under the package's root). */
function squallScript(): string {
  for (const relative of ["./squall.js", "../../../sdk/cli/squall.js"]) {
    const path = fileURLToPath(new URL(relative, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error("Found no sdk/cli/squall.js to start the local environment with.");
}

function tail(path: string): string {
  try {
    return readFileSync(path, "utf8").split("\n").slice(-20).join("\n");
  } catch {
    return "(no output)";
  }
}
