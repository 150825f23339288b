import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command in the repository root; resolves with its exit code and output, whatever the code. */
function run(command: string, args: readonly string[]): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      {
        cwd: ROOT,
        env: { ...process.env, SQUALL_LOGGING_LEVEL: "INFO", SQUALL_LOGGING_FORMAT: "text" },
        timeout: 60_000,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const runExample = (file: string) => run("node", ["--import", "tsx", `examples/${file}`]);

const lines = (text: string) => text.split("\n").filter((line) => line !== "");

/** The guide's eight lines, in its order. */
const GREETINGS = [
  "hello arthur",
  "goodbye arthur",
  "hello trillian",
  "goodbye trillian",
  "hello ford",
  "goodbye ford",
  "hello marvin",
  "goodbye marvin",
];

/** The flow names of the "Beginning flow run" log lines, in order. */
function beginnings(stderr: string): string[] {
  const found: string[] = [];
  for (const line of lines(stderr)) {
    const match = line.match(
      /^\d\d:\d\d:\d\d\.\d{3} \| INFO {5}\| Flow run '([a-z]+-[a-z]+)' - Beginning flow run '\1' for flow '(\w+)'$/,
    );
    if (match?.[2]) found.push(match[2]);
  }
  return found;
}

describe("the guide's examples", { timeout: 90_000 }, () => {
  it("sequential-flow.ts prints the eight lines in the guide's order", async () => {
    const { code, stdout, stderr } = await runExample("sequential-flow.ts");
    expect(code).toBe(0);
    expect(lines(stdout)).toEqual(GREETINGS);
    expect(beginnings(stderr)).toEqual(["greetings"]);
  });

  it("parallel-flow.ts prints the same eight lines, in some order, from Lambda workers (a local environment)", async () => {
    const { code, stdout, stderr } = await runExample("parallel-flow.ts");
    expect(code).toBe(0);
    expect(lines(stdout).sort()).toEqual([...GREETINGS].sort());
    expect(beginnings(stderr)).toEqual(["greetings"]);
  });

  it("direct-calls-flow.ts prints the eight lines in the guide's order", async () => {
    const { code, stdout, stderr } = await runExample("direct-calls-flow.ts");
    expect(code).toBe(0);
    expect(lines(stdout)).toEqual(GREETINGS);
    expect(beginnings(stderr)).toEqual(["greetings"]);
  });

  it("subflow.ts prints every greeting twice, once from the parent and once from the subflow", async () => {
    const { code, stdout, stderr } = await runExample("subflow.ts");
    expect(code).toBe(0);
    const printed = lines(stdout);
    expect(printed).toHaveLength(16);
    expect(printed.sort()).toEqual([...GREETINGS, ...GREETINGS].sort());
    expect(beginnings(stderr)).toEqual(["greetings", "parallelGreetings"]);
  });

  it("npm start runs the README's first flow, then the guide's four examples, and exits 0", async () => {
    const { code, stdout, stderr } = await run("npm", ["start"]);
    expect(code).toBe(0);
    const printed = lines(stdout);
    const files = [
      "word-count.ts",
      "sequential-flow.ts",
      "parallel-flow.ts",
      "direct-calls-flow.ts",
      "subflow.ts",
    ];
    expect(printed.filter((line) => line.startsWith("=== ")).map((line) => line.split(":")[0])).toEqual(
      files.map((file) => `=== ${file}`),
    );
    // word-count.ts prints its total, 9, right under its title.
    const title = printed.findIndex((line) => line.startsWith("=== word-count.ts: "));
    expect(printed[title + 1]).toBe("9");
    // Once each from the first three examples, twice from the subflow example.
    for (const greeting of GREETINGS) {
      expect(printed.filter((line) => line === greeting)).toHaveLength(5);
    }
    expect(beginnings(stderr)).toEqual([
      "wordCount",
      "greetings",
      "greetings",
      "greetings",
      "greetings",
      "parallelGreetings",
    ]);
  });
});

describe("the README's flow", () => {
  it("word-count.ts counts the words of three texts through mapped tasks", async () => {
    const { code, stdout } = await runExample("word-count.ts");

    expect(code).toBe(0);
    expect(lines(stdout)).toEqual(["9"]);
  });
});

describe("the README", () => {
  it("gives AWS CLI v2's --cli-binary-format with each `aws lambda invoke` JSON payload", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    // A command continued on the next line (`\`, or `//` in a comment) is one command.
    const commands = readme
      .replace(/\\\n\s*(\/\/\s*)?/g, " ")
      .split("\n")
      .filter((line) => line.includes("aws lambda invoke"));
    expect(commands.length).toBeGreaterThanOrEqual(2);
    for (const command of commands) {
      expect(command).toMatch(/--payload '\{.*\}' .*--cli-binary-format raw-in-base64-out/);
    }
  });
});
