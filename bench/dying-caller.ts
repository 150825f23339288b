// The caller that bench/caller-death.ts kills: run as a process of its own against the local
// environment the SQUALL_* variables name, it prints its flow run's id, then `result <n>` as
// each of its task runs comes back. The environment's worker threads import this module to find
// the task; only the process started on it runs the flow.
import { fileURLToPath } from "node:url";
import { flow, getRunContext, task } from "squall";
import { LambdaTaskRunner } from "squall/aws";

export const pause = task(async function pause(ms: number) {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return ms;
});

export const pauses = flow(
  { taskRunner: new LambdaTaskRunner({ tasksPerMessage: 1 }) },
  async function pauses(count: number) {
    process.stdout.write(`flow run ${getRunContext().flowRun.id}\n`);
    const futures = Array.from({ length: count }, (_, n) => pause.submit(100 * (n + 1)));
    for (const [n, future] of futures.entries()) {
      await future.result();
      process.stdout.write(`result ${n}\n`);
    }
  },
);

if (process.argv[1] === fileURLToPath(import.meta.url)) await pauses(Number(process.argv[2]));
