// The guide's first example: SequentialTaskRunner runs each submitted task before the next.
import { flow, SequentialTaskRunner } from "squall";
import { NAMES, sayGoodbye, sayHello } from "./greetings-tasks.js";

export const greetings = flow(
  { taskRunner: new SequentialTaskRunner() },
  function greetings(names: string[]) {
    for (const name of names) {
      sayHello.submit(name);
      sayGoodbye.submit(name);
    }
  },
);

await greetings(NAMES);
