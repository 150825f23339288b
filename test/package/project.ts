// Projects of a user's own for the packed package: a folder outside the repository with a
// package.json, the tarball and some packages installed, and commands run there in child
// processes, so that `squall` resolves as it does for users (node_modules), never to the source.
import { spawn } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const FIXTURES = fileURLToPath(new URL("./fixtures/", import.meta.url));

export interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * The environment of every command: this one's, without a developer's AWS settings or squall
 * address (the local environment must be what runs), and without the variables npm sets for the
 * script running the tests, which describe the repository rather than the project.
 */
function userEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env)) {
    if (/^(AWS_|SQUALL_|npm_package_|npm_lifecycle_|npm_config_local_prefix$|INIT_CWD$)/.test(name)) {
      delete env[name];
    }
  }
  return { ...env, ...extra };
}

/**
 * Runs `command` in `cwd`; resolves with its exit code and output, whatever the code. It runs in
 * a process group of its own, so that at its timeout what it started (npx and tsx start node)
 * is killed with it.
 */
export function run(
  cwd: string,
  command: string,
  args: readonly string[],
  options: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<Outcome> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd,
      env: userEnv(options.env ?? {}),
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => {
      stderr += `\n${command} ${args.join(" ")}: killed after ${timeoutMs} ms`;
      if (child.pid === undefined) return; // it never started
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {} // the group is gone already
    }, timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      resolve({ code: 1, stdout, stderr: `${stderr}${error.message}` });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}

/** `npm pack` of the repository into `dir` (its prepack builds dist/ first): the tarball and its files. */
export async function pack(dir: string): Promise<{ path: string; files: string[] }> {
  const { code, stdout, stderr } = await run(ROOT, "npm", ["pack", "--json", "--pack-destination", dir], {
    timeoutMs: 240_000,
  });
  if (code !== 0) throw new Error(`npm pack failed (${code}):\n${stderr}`);
  // The JSON follows whatever the prepack script printed.
  const [packed] = JSON.parse(stdout.slice(stdout.lastIndexOf("\n[") + 1)) as [
    { filename: string; files: { path: string }[] },
  ];
  return { path: join(dir, packed.filename), files: packed.files.map((file) => file.path).sort() };
}

/** `name@version` as the repository's lock file has it: the versions its own tests run with. */
export function locked(name: string): string {
  const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as {
    packages: Record<string, { version: string }>;
  };
  const entry = lock.packages[`node_modules/${name}`];
  if (!entry) throw new Error(`${name} is not in package-lock.json`);
  return `${name}@${entry.version}`;
}

/**
 * A fresh ES-module project in `dir` holding the fixtures, with `packages` installed (npm's
 * cache first: the repository's own install has warmed it).
 */
export async function createProject(dir: string, packages: readonly string[]): Promise<void> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "package.json"),
    `${JSON.stringify({ name: "squall-user", private: true, type: "module" }, null, 2)}\n`,
  );
  for (const fixture of ["flows.ts", "flows.mjs", "each-runner.mjs", "synth.mjs"]) {
    copyFileSync(join(FIXTURES, fixture), join(dir, fixture));
  }
  const { code, stderr } = await run(
    dir,
    "npm",
    ["install", "--prefer-offline", "--no-audit", "--no-fund", ...packages],
    { timeoutMs: 240_000 },
  );
  if (code !== 0) throw new Error(`npm install ${packages.join(" ")} failed (${code}):\n${stderr}`);
}
