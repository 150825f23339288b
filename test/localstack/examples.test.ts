// The guide's examples against LocalStack in Docker: real Lambda functions built from
// functions/ and the examples, fed by real event source mappings. A user's script runs as the
// user runs it, pointed at the deployment by SQUALL_* variables: `new LambdaTaskRunner()` with
// no options reads them. Skipped, saying why, where no Docker engine answers.
//
//   npx vitest run --project localstack     (LOCALSTACK_AUTH_TOKEN=... for a newer image)
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Deployment, deploy, LOCALSTACK_CREDENTIALS } from "./deploy.js";
import { LOCALSTACK_IMAGE, type LocalStack, startLocalStack, whyNoDocker } from "./localstack.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

const noDocker = await whyNoDocker();
if (noDocker) {
  console.warn(
    `test/localstack/examples.test.ts skipped: it needs a Docker engine to run LocalStack; ${noDocker}.`,
  );
}

/** The guide's eight lines. */
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

interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs an example as `npx tsx examples/<file>` would, with `env` added; resolves whatever its exit code. */
function runExample(file: string, env: Readonly<Record<string, string>>): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", `examples/${file}`],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          AWS_ACCESS_KEY_ID: LOCALSTACK_CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: LOCALSTACK_CREDENTIALS.secretAccessKey,
          SQUALL_LOGGING_LEVEL: "INFO",
          SQUALL_LOGGING_FORMAT: "text",
          ...env,
        },
        timeout: 300_000, // the first invocations wait for LocalStack to start Lambda containers
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const lines = (text: string) => text.split("\n").filter((line) => line !== "");

describe.skipIf(noDocker !== undefined)(
  `the guide's examples on LocalStack (${LOCALSTACK_IMAGE}; needs a Docker engine)`,
  () => {
    let localstack: LocalStack | undefined;
    let deployment: Deployment;

    beforeAll(async () => {
      localstack = await startLocalStack();
      deployment = await deploy({
        endpoint: localstack.endpoint,
        functionEndpoint: localstack.functionEndpoint,
        architecture: localstack.architecture,
        flows: "examples/parallel-flow.ts",
      });
    }, 900_000);

    afterAll(async () => {
      await localstack?.stop();
    }, 120_000);

    it("parallel-flow.ts prints the eight greetings from the worker function, and its flow run Completes", async () => {
      const { code, stdout, stderr } = await runExample("parallel-flow.ts", deployment.env);

      expect(code, stderr).toBe(0);
      expect(lines(stdout).sort()).toEqual([...GREETINGS].sort());
      expect(stderr).toMatch(
        /Flow run '([a-z]+-[a-z]+)' - Beginning flow run '\1' for flow 'greetings'\n[\s\S]*Flow run '\1' - Finished in state Completed\(\)/,
      );
    }, 360_000);
  },
);
