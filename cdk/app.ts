// `npx cdk synth` / `deploy` (cdk.json runs this): the stack "Squall" for the flows module named
// by the context value "squall:flows" (cdk.json sets it; `-c squall:flows=src/flows.ts` overrides),
// with the worker pools "squall:pools" names, as JSON:
// `-c 'squall:pools={"large":{"memorySize":6144,"timeoutSeconds":600,"maxConcurrency":20}}'`,
// and the schedules "squall:schedules" lists, as JSON (see below).
import { resolve } from "node:path";
import { App, Duration } from "aws-cdk-lib";
import { Architecture } from "aws-cdk-lib/aws-lambda";
import type { FlowSchedule } from "../sdk/aws/schedules/definition.js";
import { SquallStack } from "./squall-stack.js";

// aws-cdk-lib caches file fingerprints under os.homedir()/.cdk, whatever CDK_HOME says: where
// CDK_HOME is set (npm run synth, deploy), this process's home is there too, so nothing CDK
// writes lands outside it. The app needs nothing else from the home folder (no credentials).
if (process.env.CDK_HOME) process.env.HOME = resolve(process.env.CDK_HOME);

const app = new App();
const flows: unknown = app.node.tryGetContext("squall:flows");
if (typeof flows !== "string" || flows === "") {
  throw new Error(
    `Expected the context value "squall:flows" to name the flows module, e.g. "src/flows.ts", got \`${String(flows)}\``,
  );
}
// "x86_64" where the functions must match the machine, as on LocalStack on an x86 host.
const architectures: Record<string, Architecture> = {
  arm64: Architecture.ARM_64,
  x86_64: Architecture.X86_64,
};
const architectureName: unknown = app.node.tryGetContext("squall:architecture") ?? "arm64";
const architecture = architectures[String(architectureName)];
if (!architecture) {
  throw new Error(
    `Expected the context value "squall:architecture" to be "arm64" or "x86_64", got \`${String(architectureName)}\``,
  );
}

// Each pool's memorySize, timeoutSeconds, batchSize and maxConcurrency; none by default.
type PoolContext = {
  memorySize?: number;
  timeoutSeconds?: number;
  batchSize?: number;
  maxConcurrency?: number;
};
const poolsContext: unknown = app.node.tryGetContext("squall:pools");
const poolsJson = (typeof poolsContext === "string" ? JSON.parse(poolsContext) : poolsContext) as
  | Record<string, PoolContext>
  | undefined;
const pools =
  poolsJson &&
  Object.fromEntries(
    Object.entries(poolsJson).map(([name, { timeoutSeconds, ...settings }]) => [
      name,
      { ...settings, timeout: timeoutSeconds === undefined ? undefined : Duration.seconds(timeoutSeconds) },
    ]),
  );

// Schedules that start flows, as JSON: `-c 'squall:schedules=[{"name":"nightly","flow":"report","cron":"0 2 * * *"}]'`.
const schedulesContext: unknown = app.node.tryGetContext("squall:schedules");
const schedules = (typeof schedulesContext === "string" ? JSON.parse(schedulesContext) : schedulesContext) as
  | FlowSchedule[]
  | undefined;

new SquallStack(app, "Squall", {
  flows,
  architecture,
  pools,
  schedules,
  description: "squall: worker functions fed by SQS for LambdaTaskRunner",
});
