// The guide's Dask and Ray example: submitted tasks run in parallel on the flow's task runner,
// here AWS Lambda. With no stack given, LambdaTaskRunner starts a local environment for the run.
import { flow, task } from "squall";
import { LambdaTaskRunner } from "squall/aws";

const sayHello = task(function sayHello(name: string) {
  console.log(`hello ${name}`);
});

const sayGoodbye = task(function sayGoodbye(name: string) {
  console.log(`goodbye ${name}`);
});

export const greetings = flow({ taskRunner: new LambdaTaskRunner() }, function greetings(names: string[]) {
  for (const name of names) {
    sayHello.submit(name);
    sayGoodbye.submit(name);
  }
});

await greetings(["arthur", "trillian", "ford", "marvin"]);
