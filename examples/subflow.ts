// The guide's last example: the parent flow uses the default task runner, and a subflow
// with a task runner of its own runs the same tasks again.
import { ConcurrentTaskRunner, flow, task } from "squall";

const sayHello = task(function sayHello(name: string) {
  console.log(`hello ${name}`);
});

const sayGoodbye = task(function sayGoodbye(name: string) {
  console.log(`goodbye ${name}`);
});

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

await greetings(["arthur", "trillian", "ford", "marvin"]);
