// The guide's last example: the parent flow uses the default task runner, and a subflow
// with a task runner of its own runs the same tasks again.
import { ConcurrentTaskRunner, flow } from "squall";
import { NAMES, sayGoodbye, sayHello } from "./greetings-tasks.js";

export const parallelGreetings = flow(
  { taskRunner: new ConcurrentTaskRunner() },
  function parallelGreetings(names: string[]) {
    for (const name of names) {
      sayHello.submit(name);
      sayGoodbye.submit(name);
    }
  },
);

export const greetings = flow(async function greetings(names: string[]) {
  for (const name of names) {
    sayHello.submit(name);
    sayGoodbye.submit(name);
  }
  await parallelGreetings(names);
});

await greetings(NAMES);
