// The guide's last example: the parent flow uses the default task runner (concurrent), and a
// subflow with a task runner of its own, AWS Lambda, runs the same tasks again.
import { flow, task } from "squall";
import { LambdaTaskRunner } from "squall/aws";

const sayHello = task(function sayHello(name: string) {
  console.log(`hello ${name}`);
});

const sayGoodbye = task(function sayGoodbye(name: string) {
  console.log(`goodbye ${name}`);
});

export const parallelGreetings = flow(
  { taskRunner: new LambdaTaskRunner() },
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
