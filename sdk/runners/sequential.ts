import { ConcurrentTaskRunner } from "./concurrent.js";

/**
 * Runs submitted tasks one at a time, in the order they were submitted: each run
 * finishes before the next starts. Useful for debugging.
 *
 * @example
 * const greetings = flow({ taskRunner: new SequentialTaskRunner() }, (names: string[]) => {
 *   for (const name of names) sayHello.submit(name);
 * });
 */
export class SequentialTaskRunner extends ConcurrentTaskRunner {
  override readonly name: string = "sequential";

  constructor() {
    super({ maxConcurrency: 1 });
  }
}
