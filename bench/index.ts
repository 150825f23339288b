// `npm run bench`: prints each benchmark's table. Figures are ratios against a baseline
// run in the same process, since these machines are noisy. `npm run bench -- threads`
// runs one benchmark by name; `--json <file>` also writes the figures (bench/nodes.ts reads them).
import { writeFileSync } from "node:fs";
import { configureLogging } from "squall";
import { benchCallerDeath, reportCallerDeath } from "./caller-death.js";
import { benchCore, reportCore } from "./core.js";
import { benchDurableResume, reportDurableResume } from "./durable-resume.js";
import { benchLambda, reportLambda } from "./lambda.js";
import { benchLambdaFaults, reportLambdaFaults } from "./lambda-faults.js";
import { benchMixedLatency, reportMixedLatency } from "./mixed-latency.js";
import { benchScale, reportScale } from "./scale.js";
import { benchSerialization, reportSerialization } from "./serialization.js";
import { benchThreads, reportThreads } from "./threads.js";

configureLogging({ level: "WARNING" }); // one INFO line per flow run would be measured too

/** Each benchmark: its figures, and the table they make. */
const BENCHMARKS: Record<string, () => Promise<{ figures: unknown; table: string }>> = {
  core: async () => withTable(await benchCore(), reportCore),
  threads: async () => withTable(await benchThreads(), reportThreads),
  serialization: async () => withTable(await benchSerialization(), reportSerialization),
  lambda: async () => withTable(await benchLambda(), reportLambda),
  "caller-death": async () => withTable(await benchCallerDeath(), reportCallerDeath),
  "durable-resume": async () => withTable(await benchDurableResume(), reportDurableResume),
  "lambda-faults": async () => withTable(await benchLambdaFaults(), reportLambdaFaults),
  "mixed-latency": async () => withTable(await benchMixedLatency(), reportMixedLatency),
  scale: async () => withTable(await benchScale(), reportScale),
};

function withTable<T>(figures: T, report: (figures: T) => string) {
  return { figures, table: report(figures) };
}

const args = process.argv.slice(2);
const jsonAt = args.indexOf("--json");
const jsonFile = jsonAt >= 0 ? args[jsonAt + 1] : undefined;
if (jsonAt >= 0 && !jsonFile) {
  console.error("`--json` takes a file to write the figures to: npm run bench -- --json figures.json");
  process.exit(2);
}
const chosen = args.filter((_, i) => jsonAt < 0 || (i !== jsonAt && i !== jsonAt + 1));
for (const name of chosen) {
  if (!(name in BENCHMARKS)) {
    console.error(`Unknown benchmark \`${name}\`. Choose from: ${Object.keys(BENCHMARKS).join(", ")}.`);
    process.exit(2);
  }
}
console.log(`node ${process.version}, ${process.platform}/${process.arch}`);
const figures: Record<string, unknown> = { node: process.version };
for (const name of chosen.length > 0 ? chosen : Object.keys(BENCHMARKS)) {
  const result = await (BENCHMARKS[name] as () => Promise<{ figures: unknown; table: string }>)();
  figures[name] = result.figures;
  console.log(`\n## ${name}\n\n${result.table}`);
}
// Maps (request tallies) become plain objects.
if (jsonFile)
  writeFileSync(
    jsonFile,
    JSON.stringify(figures, (_, v) => (v instanceof Map ? Object.fromEntries(v) : v), 2),
  );
