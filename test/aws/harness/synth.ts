// One `cdk synth` through the CLI, as `npm run synth` runs it (offline: no notices, version check
// or telemetry; bundles built with the local esbuild), into a folder of the caller's choosing: of
// cdk.json's app, or of the `app` command given (`npx tsx examples/thumbnails/app.ts`).
import { execFile } from "node:child_process";

export function synthesize(
  projectRoot: string,
  outdir: string,
  cdkHome: string,
  context: Readonly<Record<string, string>> = {},
  app?: string,
): Promise<void> {
  const contextArgs = Object.entries(context).flatMap(([key, value]) => ["-c", `${key}=${value}`]);
  const appArgs = app === undefined ? [] : ["--app", app];
  return new Promise((resolve, reject) => {
    execFile(
      "npx",
      ["cdk", "synth", "--no-notices", "-q", "--output", outdir, ...appArgs, ...contextArgs],
      {
        cwd: projectRoot,
        env: {
          ...process.env,
          CDK_HOME: cdkHome,
          CDK_DISABLE_VERSION_CHECK: "1",
          CDK_DISABLE_CLI_TELEMETRY: "true",
        },
        timeout: 170_000,
      },
      (error, _stdout, stderr) => {
        if (error) reject(new Error(`cdk synth failed: ${stderr || error.message}`));
        else resolve();
      },
    );
  });
}
