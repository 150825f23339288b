import { fileURLToPath } from "node:url";
import { configDefaults, defineConfig } from "vitest/config";

const source = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests and examples import "squall" and "squall/aws" as users do; resolve them to the source.
    alias: [
      { find: /^squall$/, replacement: source("./sdk/index.ts") },
      { find: /^squall\/aws$/, replacement: source("./sdk/aws/index.ts") },
      { find: /^squall\/cdk$/, replacement: source("./cdk/index.ts") },
    ],
  },
  test: {
    testTimeout: 20_000,
    projects: [
      {
        extends: true,
        // test/unit, test/cdk and any other folder: everything that needs no emulator.
        test: {
          name: "unit",
          include: ["test/**/*.test.ts"],
          exclude: [
            ...configDefaults.exclude,
            "test/integration/**",
            "test/localstack/**",
            "test/e2e/**",
            "test/package/**",
            "test/aws/**",
          ],
        },
      },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          // One embedded emulator (fauxqs on 127.0.0.1) for the whole run; each file makes its own bucket.
          globalSetup: ["test/integration/emulator.setup.ts"],
          env: {
            // Stores built from a locator (as other threads build them) sign with the default chain.
            AWS_ACCESS_KEY_ID: "squall-local",
            AWS_SECRET_ACCESS_KEY: "squall-local",
          },
        },
      },
      {
        extends: true,
        test: {
          name: "aws",
          include: ["test/aws/**/*.test.ts"],
          // The synthesized stack run as AWS runs it: one cdk synth for the run (globalSetup), each
          // file deploying it on an embedded emulator with AWS's limits, its functions as processes.
          globalSetup: ["test/aws/synth.setup.ts"],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          // A real browser (Debian's Chromium through playwright-core) against the dashboard, with
          // flows on the embedded Lambda environment; each file skips, saying why, where no Chromium is.
          testTimeout: 60_000,
          hookTimeout: 30_000,
          env: {
            AWS_ACCESS_KEY_ID: "squall-local",
            AWS_SECRET_ACCESS_KEY: "squall-local",
          },
        },
      },
      {
        extends: true,
        test: {
          name: "package",
          include: ["test/package/**/*.test.ts"],
          // npm pack (building dist/), the tarball installed into projects in the temp folder, and
          // flows and a synth run there: 70-90 s on two cores with npm's cache warm, more when cold.
          testTimeout: 180_000,
          hookTimeout: 600_000,
        },
      },
      {
        extends: true,
        test: {
          name: "localstack",
          include: ["test/localstack/**/*.test.ts"],
          // LocalStack in Docker through testcontainers; each file skips, saying why, where no Docker engine answers.
          testTimeout: 360_000,
          hookTimeout: 900_000,
          env: {
            AWS_ACCESS_KEY_ID: "test",
            AWS_SECRET_ACCESS_KEY: "test",
          },
        },
      },
    ],
  },
});
