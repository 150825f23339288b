// The dashboard's HTTP server: the page, a JSON API over the flow runs (the local record, or a
// stack's bucket), and a Server-Sent Events stream of a run's new lines while it is live. Loopback only: a run's logs and stacks
// are for the person at this machine.
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { InvalidArgumentError } from "../../errors.js";
import type { RunBackend } from "../../records/backend.js";
import { LocalRunBackend } from "../../records/local-backend.js";
import { isFinalState } from "../../records/record.js";

export interface DashboardOptions {
  /** The run record's root, holding `runs/<flowRunId>/events.jsonl`; or give `backend`. */
  readonly root?: string;
  /** Where to read flow runs instead of a local record: a bucket (`BucketRunBackend` of squall/aws). */
  readonly backend?: RunBackend;
  /** 0 picks a free port. @default 0 */
  readonly port?: number;
  /** A loopback address: `127.0.0.1`, `::1` or `localhost`. @default "127.0.0.1" */
  readonly host?: string;
  /** With `root`: how often a live run's file is read when `fs.watch` reports nothing. @default 1000 */
  readonly pollMs?: number;
}

export interface Dashboard {
  /** Where the page is: `http://127.0.0.1:<port>/`. */
  readonly url: string;
  /** Ends open event streams and closes the server. */
  stop(): Promise<void>;
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

/** The page's files: served from `page/` beside this module, and nothing else from disk. */
const ASSETS: Record<string, { file: string; type: string }> = {
  "/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/index.html": { file: "index.html", type: "text/html; charset=utf-8" },
  "/app.js": { file: "app.js", type: "text/javascript; charset=utf-8" },
  "/model.js": { file: "model.js", type: "text/javascript; charset=utf-8" },
  "/style.css": { file: "style.css", type: "text/css; charset=utf-8" },
  "/favicon.svg": { file: "favicon.svg", type: "image/svg+xml" },
};
const PAGE_DIR = fileURLToPath(new URL("./page/", import.meta.url));

/** Sent with every answer: the page loads nothing from elsewhere. */
const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

/** A stream's comment line every so often, so that idle connections are not dropped. */
const HEARTBEAT_MS = 15_000;
/** After a run's final state, lines written just after it are still sent for this long. */
const LINGER_MS = 250;

/**
 * Serves the dashboard for the runs recorded under `root`, on a loopback address.
 *
 * @example
 * const dashboard = await startDashboard({ root: ".squall" });
 * console.log(dashboard.url); // http://127.0.0.1:41235/
 * await dashboard.stop();
 */
export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const { root, backend, port = 0, host = "127.0.0.1", pollMs } = options;
  if (
    backend !== undefined &&
    !["list", "resolve", "summary", "read", "follow"].every(
      (m) => typeof (backend as never)[m] === "function",
    )
  ) {
    throw new InvalidArgumentError(
      "Expected `backend` to be a RunBackend (with list, resolve, summary, read and follow), such as new BucketRunBackend(address) of squall/aws",
    );
  }
  if (backend === undefined && (typeof root !== "string" || root === "")) {
    throw new InvalidArgumentError(
      `Expected \`root\` to be a directory path (or a \`backend\` to read runs from), got \`${String(root)}\``,
    );
  }
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new InvalidArgumentError(`Expected \`port\` to be an integer from 0 to 65535, got \`${port}\``);
  }
  if (!LOOPBACK.has(host)) {
    throw new InvalidArgumentError(
      `Expected \`host\` to be a loopback address (127.0.0.1, ::1 or localhost), got \`${host}\`: the dashboard shows logs and stacks and serves this machine only`,
    );
  }

  // The page's header names a local record by its folder: `.squall`, or its path below here.
  const records =
    backend ?? new LocalRunBackend(root as string, { pollMs, where: shortRoot(root as string) });
  const streams = new Set<() => void>();
  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) sendJson(response, 500, { error: String(error) });
      else response.end();
    });
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (!fromThisMachine(request, server.address() as AddressInfo)) {
      sendJson(response, 403, { error: "This dashboard answers requests addressed to this machine only." });
      return;
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.setHeader("allow", "GET, HEAD");
      sendJson(response, 405, { error: `${request.method} is not allowed` });
      return;
    }
    const { pathname, searchParams } = new URL(request.url ?? "/", "http://dashboard");
    const asset = ASSETS[pathname];
    if (asset) {
      const body = await readFile(PAGE_DIR + asset.file);
      response.writeHead(200, {
        ...SECURITY_HEADERS,
        "content-type": asset.type,
        "cache-control": "no-cache",
      });
      response.end(request.method === "HEAD" ? undefined : body);
      return;
    }
    if (pathname === "/boot.js") {
      // The run list as a script the page loads before its own: the page draws the list before
      // it signals `load`, so that a screenshot taken then shows it. JSON is JavaScript; the
      // list goes in as data, never as markup.
      const body = `globalThis.squallBoot = ${JSON.stringify({ root: records.where, runs: await records.list() })};\n`;
      response.writeHead(200, {
        ...SECURITY_HEADERS,
        "content-type": "text/javascript; charset=utf-8",
        "cache-control": "no-store",
      });
      response.end(request.method === "HEAD" ? undefined : body);
      return;
    }
    if (pathname === "/api/runs") {
      sendJson(response, 200, { root: records.where, runs: await records.list() });
      return;
    }
    const match = /^\/api\/runs\/([^/]+)(\/events)?$/.exec(pathname);
    const id = match?.[1] === undefined ? undefined : safeDecode(match[1]);
    if (id === undefined) {
      sendJson(response, 404, { error: `Nothing at ${pathname}` });
      return;
    }
    if (match?.[2] === undefined) {
      const run = await records.read(id);
      if (run) sendJson(response, 200, run);
      else sendJson(response, 404, { error: `No run \`${id}\` in ${records.where}` });
      return;
    }
    const summary = await records.summary(id);
    if (!summary) {
      sendJson(response, 404, { error: `No run \`${id}\` in ${records.where}` });
      return;
    }
    const lastEventId = request.headers["last-event-id"];
    const from = Number((typeof lastEventId === "string" && lastEventId) || searchParams.get("from") || 0);
    streamEvents(response, id, Number.isSafeInteger(from) && from >= 0 ? from : 0, summary.final);
  }

  /**
   * Sends each line added to the run's record from position `from` on, as an event whose id is
   * the position after it (a reconnecting EventSource resumes there). Once the run is final the
   * stream sends `end` and closes.
   */
  function streamEvents(response: ServerResponse, id: string, from: number, final: boolean): void {
    response.writeHead(200, {
      ...SECURITY_HEADERS,
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      connection: "keep-alive",
    });
    response.write("retry: 1000\n\n");
    let ending: NodeJS.Timeout | undefined;
    const finish = () => {
      close();
      response.end("event: end\ndata: {}\n\n");
    };
    const endSoon = () => {
      ending ??= setTimeout(finish, LINGER_MS);
    };
    const follower = records.follow(id, from, (line, next) => {
      response.write(`id: ${next}\ndata: ${JSON.stringify(line)}\n\n`);
      if (line.kind === "flow" && line.id === id && isFinalState(line.state)) endSoon();
    });
    if (final) follower.caughtUp.then(endSoon, endSoon);
    const heartbeat = setInterval(() => response.write(": still here\n\n"), HEARTBEAT_MS);
    const close = () => {
      follower.stop();
      clearInterval(heartbeat);
      clearTimeout(ending);
      streams.delete(finish);
    };
    streams.add(finish);
    response.on("close", close);
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port, host }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${shown}:${address.port}/`,
    async stop() {
      for (const finish of [...streams]) finish();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** The root relative to the working directory when inside it, else its last part. */
function shortRoot(root: string): string {
  const relative = path.relative(process.cwd(), path.resolve(root));
  return relative && !relative.startsWith("..") && !path.isAbsolute(relative)
    ? relative
    : path.basename(root);
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, {
    ...SECURITY_HEADERS,
    "content-type": "application/json; charset=utf-8",
    "cache-control": "no-store",
  });
  response.end(JSON.stringify(body));
}

function safeDecode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/**
 * Whether the request was addressed to this machine by name: a page elsewhere that rebinds its
 * own host name to 127.0.0.1 (DNS rebinding) sends its own name in `Host`, and is refused.
 */
function fromThisMachine(request: IncomingMessage, address: AddressInfo): boolean {
  const host = request.headers.host;
  if (host === undefined) return true; // HTTP/1.0 clients; browsers always send one
  const allowed = ["127.0.0.1", "localhost", "[::1]"].map((name) => `${name}:${address.port}`);
  return allowed.includes(host.toLowerCase());
}
