import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { projectSource } from "../../sdk/aws/local/loaded-files.js";

// A local function thread tracks the project's own source files, which it reloads for when they
// change, and nothing of its dependencies, squall's state or other folders.

const ROOT = "/home/dev/shop";
const url = (path: string) => pathToFileURL(join(ROOT, path)).href;

describe("the project source files a local thread tracks", () => {
  it("are the project's TypeScript, JavaScript and JSON files, by path, whatever the query tsx adds", () => {
    for (const file of [
      "flows.ts",
      "src/a.mts",
      "src/b.cts",
      "ui/c.tsx",
      "d.js",
      "e.mjs",
      "f.cjs",
      "data/g.json",
    ])
      expect(projectSource(url(file), ROOT)).toBe(join(ROOT, file));
    expect(projectSource(`${url("src/helper.ts")}?tsx-namespace=1`, ROOT)).toBe(join(ROOT, "src/helper.ts"));
  });

  it("leave out dependencies, squall's state, other files and anything outside the project", () => {
    for (const file of [
      "node_modules/squall/dist/index.js",
      "packages/x/node_modules/y/index.js",
      ".squall/env.json",
    ])
      expect(projectSource(url(file), ROOT)).toBeUndefined();
    expect(projectSource(url("README.md"), ROOT)).toBeUndefined();
    expect(projectSource(url("assets/logo.wasm"), ROOT)).toBeUndefined();
    expect(projectSource(pathToFileURL("/home/dev/shop-old/flows.ts").href, ROOT)).toBeUndefined();
    expect(projectSource(pathToFileURL("/home/dev/other/flows.ts").href, ROOT)).toBeUndefined();
    expect(projectSource("node:fs", ROOT)).toBeUndefined();
    expect(projectSource("data:text/javascript,export default 1", ROOT)).toBeUndefined();
  });
});
