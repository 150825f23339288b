// `npm start`: runs the guide's examples one after another.
const EXAMPLES = [
  ["sequential-flow.ts", "SequentialTaskRunner: each task finishes before the next starts"],
  ["parallel-flow.ts", "ConcurrentTaskRunner: submitted tasks run concurrently"],
  ["direct-calls-flow.ts", "Tasks called without .submit() run in the flow, in order"],
  ["subflow.ts", "A subflow with its own task runner"],
] as const;

for (const [file, title] of EXAMPLES) {
  console.log(`\n=== ${file}: ${title}`);
  await import(`./${file}`);
}
