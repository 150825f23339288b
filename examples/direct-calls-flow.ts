// The guide's example without .submit(): tasks called directly run in the flow, one after another,
// whatever the flow's task runner.
import { ConcurrentTaskRunner, flow, task } from "squall";

const sayHello = task(function sayHello(name: string) {
  console.log(`hello ${name}`);
});

const sayGoodbye = task(function sayGoodbye(name: string) {
  console.log(`goodbye ${name}`);
});

export const greetings = flow(
  { taskRunner: new ConcurrentTaskRunner() },
  function greetings(names: string[]) {
    for (const name of names) {
      sayHello(name);
      sayGoodbye(name);
    }
  },
);

await greetings(["arthur", "trillian", "ford", "marvin"]);
