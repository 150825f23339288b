// A laptop's process against the deployed stack: a Node process of its own, from the repository's
// root (as a user runs `npx tsx ...` or `npx squall ...`), signing with the caller's credentials
// and nothing else of the test's environment.
import { execFile } from "node:child_process";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import type { Credentials } from "../harness/principals.js";

export const ROOT = fileURLToPath(new URL("../../..", import.meta.url));

export interface LaptopRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** It was still running at `timeoutMs` and was killed. */
  readonly timedOut: boolean;
}

export function runOnLaptop(
  args: readonly string[],
  options: {
    readonly credentials: Credentials;
    readonly env?: Readonly<Record<string, string>>;
    readonly timeoutMs: number;
  },
): Promise<LaptopRun> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [...args],
      {
        cwd: ROOT,
        env: {
          PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ""}`,
          TMPDIR: process.env.TMPDIR ?? "/tmp",
          // No shared AWS config or credentials files: the laptop is what the test gives it.
          AWS_CONFIG_FILE: "/dev/null",
          AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
          AWS_ACCESS_KEY_ID: options.credentials.accessKeyId,
          AWS_SECRET_ACCESS_KEY: options.credentials.secretAccessKey,
          AWS_REGION: "us-east-1",
          SQUALL_LOGGING_FORMAT: "text",
          ...options.env,
        },
        timeout: options.timeoutMs,
        killSignal: "SIGKILL",
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const timedOut = Boolean(error && (error as { killed?: boolean }).killed);
        resolve({ code: child.exitCode, stdout, stderr, timedOut });
      },
    );
  });
}
