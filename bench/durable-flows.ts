// The flows module of the durable-resume benchmark: `n` runs of a no-op task, then a sleep long
// enough that its flow-runner hands the run on rather than wait.
import { flow, sleep, task } from "squall";
import { LambdaTaskRunner } from "squall/aws";

export const nothing = task(function nothing(x: number) {
  return x;
});

export const finishedThenSleep = flow(
  { taskRunner: new LambdaTaskRunner() },
  async function finishedThenSleep(n: number) {
    const results = await nothing.map(Array.from({ length: n }, (_, i) => i)).result();
    await sleep(10 * 60_000);
    return results.length;
  },
);
