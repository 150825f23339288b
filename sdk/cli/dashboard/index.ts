// `squall dashboard`: serves the dashboard for the runs recorded here until Ctrl-C.
import { spawn } from "node:child_process";
import type { RunBackend } from "../../records/backend.js";
import { defaultRoot } from "../../records/record.js";
import { UsageError } from "../usage-error.js";
import { startDashboard } from "./server.js";

export { type Dashboard, type DashboardOptions, startDashboard } from "./server.js";

export interface DashboardCommandOptions {
  /** As given with `--port`; 0 picks a free port. @default 0 */
  readonly port?: number | string;
  /** A loopback address. @default "127.0.0.1" */
  readonly host?: string;
  /** Open the page in the default browser. @default false */
  readonly open?: boolean;
  /** The run record's root, read when no `backend` is given. @default `$SQUALL_HOME`, else `.squall` in the current directory */
  readonly root?: string;
  /** Where to read runs instead of the local record: a bucket's backend (`--stack`, `--env`). */
  readonly backend?: RunBackend;
  /** Stops the dashboard, as Ctrl-C does. */
  readonly signal?: AbortSignal;
  /** Where the command's lines go. @default stdout */
  readonly write?: (text: string) => void;
}

/**
 * `squall dashboard [--port N] [--open] [--stack <name>]`: serves the dashboard, prints its URL and keeps serving
 * until SIGINT or SIGTERM (or `signal`); resolves with the exit code, 0, once it has stopped.
 * Throws `UsageError` for a port that is not one or is taken.
 *
 * @example
 * const code = await dashboardCommand({ port: options.port, open: options.open });
 */
export async function dashboardCommand(options: DashboardCommandOptions = {}): Promise<number> {
  const write = options.write ?? ((text: string) => void process.stdout.write(text));
  const root = options.root ?? defaultRoot();
  const port = portOf(options.port);
  const { backend } = options;
  const dashboard = await startDashboard({ root, backend, port, host: options.host }).catch((error) => {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE") {
      throw new UsageError(
        `Port ${port} is in use: pick another with --port, or leave --port out for a free one.`,
      );
    }
    if (code === "EACCES") {
      throw new UsageError(
        `Port ${port} may not be used by this user (ports below 1024 need privileges): pick one above 1023 with --port, or leave --port out for a free one.`,
      );
    }
    throw error;
  });
  const where = backend ? `runs in ${backend.where}` : `runs under ${root}`;
  write(`squall dashboard: ${dashboard.url}\n  ${where}; press Ctrl-C to stop\n`);
  if (options.open) openInBrowser(dashboard.url, write);

  await new Promise<void>((resolve) => {
    const done = () => {
      process.off("SIGINT", done);
      process.off("SIGTERM", done);
      options.signal?.removeEventListener("abort", done);
      resolve();
    };
    process.on("SIGINT", done);
    process.on("SIGTERM", done);
    if (options.signal?.aborted) done();
    else options.signal?.addEventListener("abort", done);
  });
  await dashboard.stop();
  return 0;
}

function portOf(given: number | string | undefined): number {
  if (given === undefined) return 0;
  const port = typeof given === "number" ? given : /^\d+$/.test(given) ? Number(given) : Number.NaN;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new UsageError(`Expected --port to be an integer from 0 to 65535, got \`${given}\`.`);
  }
  return port;
}

/** Hands the URL to the platform's opener; says so if there is none (a headless machine). */
function openInBrowser(url: string, write: (text: string) => void): void {
  const [command, args] =
    process.platform === "darwin"
      ? ["open", [url]]
      : process.platform === "win32"
        ? ["cmd", ["/c", "start", "", url]]
        : ["xdg-open", [url]];
  const opener = spawn(command, args, { stdio: "ignore", detached: true });
  opener.on("error", () => write(`  could not open a browser (${command}); open ${url} yourself\n`));
  opener.unref();
}
