// The flows module the repository's stack deploys (cdk.json's "squall:flows"): the worker finds
// the tasks of the modules imported here by name, and the flow-runner their flows. Importing a
// script that calls its flow at top level is safe there: in a function that call is skipped and
// never settles, while the tasks defined above it are registered.
// One script only: the guide's scripts reuse task names (sayHello), and one process may hold
// one task of a name.
export { greetings } from "./parallel-flow.js";
