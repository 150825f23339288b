// The tasks every example of the guide uses.
import { task } from "squall";

export const sayHello = task(function sayHello(name: string) {
  console.log(`hello ${name}`);
});

export const sayGoodbye = task(function sayGoodbye(name: string) {
  console.log(`goodbye ${name}`);
});

export const NAMES = ["arthur", "trillian", "ford", "marvin"];
