// `npm start`: runs the README's first flow (word-count.ts), then the examples of Prefect's task
// runners guide ("Dask and Ray Task Runners") redone in TypeScript, one after another, each in its
// own process as the guide runs each script, so that each file stands alone as a user would write it.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const EXAMPLES = [
  ["word-count.ts", "The README's first flow: a task mapped over texts, its futures passed on"],
  ["sequential-flow.ts", "SequentialTaskRunner: each task finishes before the next starts"],
  [
    "parallel-flow.ts",
    "LambdaTaskRunner: submitted tasks fan out to worker functions (a local environment here)",
  ],
  ["direct-calls-flow.ts", "Tasks called without .submit() run in the flow, in order"],
  ["subflow.ts", "A concurrent parent flow, and a subflow with LambdaTaskRunner"],
] as const;

for (const [file, title] of EXAMPLES) {
  console.log(`\n=== ${file}: ${title}`);
  const path = fileURLToPath(new URL(file, import.meta.url));
  const { status } = spawnSync(process.execPath, ["--import", "tsx", path], { stdio: "inherit" });
  if (status !== 0) process.exit(status ?? 1);
}
