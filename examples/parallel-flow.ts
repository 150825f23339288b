// The guide's Dask and Ray example: submitted tasks run in parallel on the flow's task runner.
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
      sayHello.submit(name);
      sayGoodbye.submit(name);
    }
  },
);

await greetings(["arthur", "trillian", "ford", "marvin"]);
