import { execFile } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SDK = join(ROOT, "sdk");

/** The module specifiers a file imports or re-exports statically (`import(...)` is not static). */
function staticImports(source: string): string[] {
  const pattern = /^\s*(?:import|export)\b(?:[^;"'`()]*?\bfrom\s*)?\s*["']([^"']+)["']/gm;
  return [...source.matchAll(pattern)].map((match) => match[1] as string);
}

/**
 * In a fresh Node process, imports `squall` and then `squall/aws` from source, and reports the
 * modules resolved after each: every ESM resolution is recorded by a loader hook, and CommonJS
 * loads by the require cache.
 */
const PROBE = `
import { register, createRequire } from "node:module";
import { MessageChannel } from "node:worker_threads";
const { port1, port2 } = new MessageChannel();
const resolved = [];
port1.on("message", (url) => resolved.push(url));
port1.unref();
register("data:text/javascript," + encodeURIComponent(\`
  let port;
  export function initialize(data) { port = data.port; }
  export async function resolve(specifier, context, next) {
    const result = await next(specifier, context);
    port.postMessage(result.url);
    return result;
  }
\`), { data: { port: port2 }, transferList: [port2] });
const cache = createRequire(import.meta.url)("node:module")._cache;
const loaded = () => [...new Set([...resolved, ...Object.keys(cache)])];
const settle = () => new Promise((done) => setTimeout(done, 50));
await import("./sdk/index.ts");
await settle();
const core = loaded();
await import("./sdk/aws/index.ts");
await settle();
console.log(JSON.stringify({ core, aws: loaded() }));
`;

function probe(): Promise<{ core: string[]; aws: string[] }> {
  return new Promise((resolve, reject) => {
    execFile(
      "node",
      ["--import", "tsx", "--input-type=module", "--eval", PROBE],
      { cwd: ROOT, timeout: 15_000 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`The probe failed: ${stderr}`, { cause: error }));
        else resolve(JSON.parse(stdout.trim().split("\n").pop() ?? "{}"));
      },
    );
  });
}

const isAws = (path: string) => /[/\\]node_modules[/\\](@aws-sdk|fauxqs|fastify)[/\\]/.test(path);

describe("the squall/aws boundary", () => {
  it("no module under sdk/ outside sdk/aws/ statically imports sdk/aws, the AWS SDK or the emulator", async () => {
    const files = (await readdir(SDK, { recursive: true }))
      .filter((file) => file.endsWith(".ts") && !file.startsWith(`aws${sep}`))
      .map((file) => join(SDK, file));
    expect(files.length).toBeGreaterThan(20);

    const offending: string[] = [];
    for (const file of files) {
      for (const specifier of staticImports(await readFile(file, "utf8"))) {
        if (/^@aws-sdk\/|^fauxqs$|(^|\/)aws(\/|$)/.test(specifier)) {
          offending.push(`${relative(ROOT, file)} imports ${specifier}`);
        }
      }
    }

    expect(offending).toEqual([]);
  });

  it("squall/aws and the run records import nothing of the command line, not even lazily", async () => {
    const files = (await readdir(SDK, { recursive: true }))
      .filter(
        (file) => file.endsWith(".ts") && (file.startsWith(`aws${sep}`) || file.startsWith(`records${sep}`)),
      )
      .map((file) => join(SDK, file));
    expect(files.some((file) => file.includes(`${sep}records${sep}local-backend.ts`))).toBe(true);
    expect(files.some((file) => file.includes(`${sep}aws${sep}records${sep}bucket-backend.ts`))).toBe(true);

    const offending: string[] = [];
    for (const file of files) {
      const source = await readFile(file, "utf8");
      const lazy = [...source.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)].map(
        (match) => match[1] as string,
      );
      for (const specifier of [...staticImports(source), ...lazy]) {
        if (
          specifier.startsWith(".") &&
          resolve(dirname(file), specifier).startsWith(join(SDK, "cli", sep))
        ) {
          offending.push(`${relative(ROOT, file)} imports ${specifier}`);
        }
      }
    }

    expect(offending).toEqual([]);
  });

  it("finds static imports across lines, and not dynamic ones", () => {
    const source = [
      'import { a } from "./a.js";',
      "import {",
      "  b,",
      '} from "@aws-sdk/client-s3";',
      'export { c } from "../aws/c.js";',
      'import "side-effect";',
      'const lazy = await import("../aws/s3-store.js");',
    ].join("\n");

    expect(staticImports(source)).toEqual(["./a.js", "@aws-sdk/client-s3", "../aws/c.js", "side-effect"]);
  });

  it('importing "squall" loads no AWS SDK module; importing "squall/aws" does', async () => {
    const { core, aws } = await probe();

    expect(core.some((path) => path.includes("/sdk/index.ts"))).toBe(true);
    expect(core.filter(isAws)).toEqual([]);
    expect(aws.some((path) => /[/\\]@aws-sdk[/\\]client-s3[/\\]/.test(path))).toBe(true);
    // The emulator (fauxqs, Fastify) loads only when an emulator starts.
    expect(aws.filter((path) => /[/\\]node_modules[/\\](fauxqs|fastify)[/\\]/.test(path))).toEqual([]);
  });
});
