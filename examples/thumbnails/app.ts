// The thumbnails example's CDK app: the stack "SquallThumbnails" (stack.ts), from the repository's root:
//
//   npm run deploy -- --app "npx tsx examples/thumbnails/app.ts"
//
// `-c squall:architecture=x86_64` builds the functions, and installs sharp's native binary, for
// x86_64 instead of arm64.
import { resolve } from "node:path";
import { App } from "aws-cdk-lib";
import { Architecture } from "aws-cdk-lib/aws-lambda";
import { ThumbnailsStack } from "./stack.js";

// As in cdk/app.ts: aws-cdk-lib caches file fingerprints under the home folder, kept in CDK_HOME.
if (process.env.CDK_HOME) process.env.HOME = resolve(process.env.CDK_HOME);

const app = new App();
const architecture =
  app.node.tryGetContext("squall:architecture") === "x86_64" ? Architecture.X86_64 : Architecture.ARM_64;
new ThumbnailsStack(app, "SquallThumbnails", {
  architecture,
  description: "squall example: thumbnails made with sharp on a worker pool",
});
