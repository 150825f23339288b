// The guide's example without .submit(): tasks called directly run in the flow, one after another,
// whatever the flow's task runner.
import { ConcurrentTaskRunner, flow } from "squall";
import { NAMES, sayGoodbye, sayHello } from "./greetings-tasks.js";

export const greetings = flow(
  { taskRunner: new ConcurrentTaskRunner() },
  function greetings(names: string[]) {
    for (const name of names) {
      sayHello(name);
      sayGoodbye(name);
    }
  },
);

await greetings(NAMES);
