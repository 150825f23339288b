// The guide's Dask and Ray example: submitted tasks run in parallel on the flow's task runner.
import { ConcurrentTaskRunner, flow } from "squall";
import { NAMES, sayGoodbye, sayHello } from "./greetings-tasks.js";

export const greetings = flow(
  { taskRunner: new ConcurrentTaskRunner() },
  function greetings(names: string[]) {
    for (const name of names) {
      sayHello.submit(name);
      sayGoodbye.submit(name);
    }
  },
);

await greetings(NAMES);
