// The guide's first example: SequentialTaskRunner runs each submitted task before the next.
import { flow, SequentialTaskRunner, task } from "squall";

const sayHello = task(function sayHello(name: string) {
  console.log(`hello ${name}`);
});

const sayGoodbye = task(function sayGoodbye(name: string) {
  console.log(`goodbye ${name}`);
});

export const greetings = flow(
  { taskRunner: new SequentialTaskRunner() },
  function greetings(names: string[]) {
    for (const name of names) {
      sayHello.submit(name);
      sayGoodbye.submit(name);
    }
  },
);

await greetings(["arthur", "trillian", "ford", "marvin"]);
