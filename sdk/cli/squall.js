#!/usr/bin/env node
// The `squall` command. In the repository it runs the CLI from source under tsx; installed, from dist/.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";

const source = new URL("./bin.ts", import.meta.url);
const built = new URL("../../dist/sdk/cli/bin.js", import.meta.url);

if (existsSync(source) && hasTsx()) {
  const { register } = await import("tsx/esm/api");
  register();
  await import(source.href);
} else if (existsSync(built)) {
  await import(built.href);
} else {
  process.stderr.write(
    "squall: found neither sdk/cli/bin.ts with tsx nor dist/sdk/cli/bin.js: run npm run build.\n",
  );
  process.exit(1);
}

function hasTsx() {
  try {
    createRequire(import.meta.url).resolve("tsx/esm/api");
    return true;
  } catch {
    return false;
  }
}
