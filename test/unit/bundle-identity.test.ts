import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";
import { InvalidArgumentError } from "squall";
import { afterAll, describe, expect, it } from "vitest";
import { BUNDLE_TARGET } from "../../cdk/constructs/squall-function.js";
import { bundleIdentityOf, parseBundledModules } from "../../sdk/bundle-identity.js";
import { thrownBy } from "../support/async.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), "squall-bundle-identity-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A file shaped as esbuild writes a bundle: each module's code after a comment naming its path. */
const FAKE_BUNDLE = [
  'import { createRequire } from "node:module";', // 1
  "// node_modules/valibot/dist/index.js", // 2
  "var a = 1;", // 3
  "// sdk/registry.ts", // 4
  "function registerTask() {}", // 5
  "// @__NO_SIDE_EFFECTS__", // 6
  "function pure() {}", // 7
  "// src/orders.ts", // 8
  "var orders = task(function ship() {});", // 9
  "", // 10
  "// src/stock levels.ts", // 11
  "var stock = task(function count() {});", // 12
  "// cdk.out/.squall/SquallWorker0FBA2608.mjs", // 13
  "var handler = workerHandler();", // 14
].join("\n");

describe("bundleIdentityOf", () => {
  const folder = join(scratch, "fake");
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, "index.mjs"), FAKE_BUNDLE);
  const bundle = bundleIdentityOf(pathToFileURL(join(folder, "index.mjs")).href, {
    "src/orders.ts": "0123456789abcdef",
    "src/stock levels.ts": "fedcba9876543210",
  });
  const beside = (path: string) => pathToFileURL(join(folder, path)).href;

  it("names the project module a line is in, as the file URL its source would have beside the bundle", () => {
    expect(bundle.moduleAt(8)).toBe(beside("src/orders.ts"));
    expect(bundle.moduleAt(9)).toBe(beside("src/orders.ts"));
    expect(bundle.moduleAt(10)).toBe(beside("src/orders.ts"));
    expect(bundle.moduleAt(12)).toBe(beside("src/stock levels.ts"));
    expect(bundle.moduleAt(12)).toBe(`${pathToFileURL(folder).href}/src/stock%20levels.ts`);
  });

  it("names no module for squall's code, a package's, the entry's or what comes before any module", () => {
    expect([1, 2, 3, 5, 6, 7, 13, 14].map((line) => bundle.moduleAt(line))).toEqual(Array(8).fill(undefined));
  });

  it("gives the hash the deployment listed for a bundled module, and none for any other", () => {
    expect(bundle.hashOf(beside("src/orders.ts"))).toBe("0123456789abcdef");
    expect(bundle.hashOf(beside("src/stock levels.ts"))).toBe("fedcba9876543210");
    expect(bundle.hashOf(beside("sdk/registry.ts"))).toBeUndefined();
    expect(bundle.hashOf(pathToFileURL(join(ROOT, "src/orders.ts")).href)).toBeUndefined();
  });
});

describe("parseBundledModules", () => {
  it("gives the listed modules and their hashes", () => {
    expect(parseBundledModules('{"src/flows.ts":"0123456789abcdef"}')).toEqual({
      "src/flows.ts": "0123456789abcdef",
    });
  });

  it.each(["not json", "[]", '{"src/flows.ts":1}', "null"])(
    "refuses %s, saying what it should hold",
    (text) => {
      const error = thrownBy(() => parseBundledModules(text));

      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error.message).toMatch(
        new RegExp(
          `^Expected SQUALL_BUNDLED_MODULES to be JSON \\{ "<path>": "<moduleHash>" \\}, got \`${text.replace(/[[\]{}]/g, "\\$&")}\``,
        ),
      );
    },
  );
});

// A module bundled with the construct's esbuild settings, run by Node as Lambda runs a bundle.
describe("a task defined in a bundle", () => {
  const HASH = "0123456789abcdef";
  const SOURCE = "test/fixtures/bundled-tasks.ts";

  async function bundleTasks(folder: string): Promise<string> {
    const outfile = join(folder, "index.mjs");
    await build({
      stdin: {
        contents: [
          `export { pick } from "./${SOURCE}";`,
          'export { registeredTask } from "./sdk/registry.ts";',
          'export { learnErrorClassesOf } from "./sdk/serialization/errors.ts";',
        ].join("\n"),
        resolveDir: ROOT,
        sourcefile: "entry.mjs",
        loader: "ts",
      },
      absWorkingDir: ROOT,
      alias: { squall: join(ROOT, "sdk/index.ts") },
      bundle: true,
      outfile,
      platform: "node",
      format: "esm",
      target: BUNDLE_TARGET,
      keepNames: true,
      minify: false,
      logLevel: "silent",
      banner: {
        js: 'import { createRequire as __squallCreateRequire } from "node:module"; const require = __squallCreateRequire(import.meta.url);',
      },
    });
    return outfile;
  }

  /** Imports the bundle in a Node process of its own and reports what its registry knows of `pick`. */
  function inspect(bundle: string, env: Record<string, string>) {
    const script = `const bundle = await import(${JSON.stringify(pathToFileURL(bundle).href)});
const def = bundle.registeredTask("pick");
const started = performance.now();
await bundle.learnErrorClassesOf(def.module);
process.stdout.write(JSON.stringify({
  module: def.module,
  codeHash: def.codeHash,
  learnMs: performance.now() - started,
  importedBeside: globalThis.importedBeside === true,
}));`;
    return new Promise<{ module: string; codeHash: string; learnMs: number; importedBeside: boolean }>(
      (resolve, reject) => {
        execFile(
          process.execPath,
          ["--input-type=module", "-e", script],
          { env: { PATH: process.env.PATH ?? "", ...env }, timeout: 15_000 },
          (error, stdout, stderr) =>
            error ? reject(new Error(stderr || error.message)) : resolve(JSON.parse(stdout)),
        );
      },
    );
  }

  it("is named by its module's path beside the bundle and carries the hash the deployment listed", async () => {
    const folder = join(scratch, "named");
    const bundle = await bundleTasks(folder);

    const seen = await inspect(bundle, { SQUALL_BUNDLED_MODULES: JSON.stringify({ [SOURCE]: HASH }) });

    expect(seen.module).toBe(pathToFileURL(join(folder, SOURCE)).href);
    expect(seen.codeHash).toBe(HASH);
  });

  it("learns its module's error classes without importing a file at that path, and without waiting", async () => {
    const folder = join(scratch, "beside");
    const bundle = await bundleTasks(folder);
    // Were the bundled module's URL imported, this file would run and hold the import up.
    mkdirSync(join(folder, "test/fixtures"), { recursive: true });
    writeFileSync(join(folder, SOURCE), "globalThis.importedBeside = true;\nawait new Promise(() => {});\n");

    const seen = await inspect(bundle, { SQUALL_BUNDLED_MODULES: JSON.stringify({ [SOURCE]: HASH }) });

    expect(seen.module).toBe(pathToFileURL(join(folder, SOURCE)).href);
    expect(seen.importedBeside).toBe(false);
    expect(seen.learnMs).toBeLessThan(20);
  });
});
