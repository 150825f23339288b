// `npm run bench`: prints each benchmark's table. Figures are ratios against a baseline
// run in the same process, since these machines are noisy. `npm run bench -- threads`
// runs one benchmark by name.
import { configureLogging } from "squall";
import { benchCore, reportCore } from "./core.js";
import { benchLambda, reportLambda } from "./lambda.js";
import { benchSerialization, reportSerialization } from "./serialization.js";
import { benchThreads, reportThreads } from "./threads.js";

configureLogging({ level: "WARNING" }); // one INFO line per flow run would be measured too

const BENCHMARKS: Record<string, () => Promise<string>> = {
  core: async () => reportCore(await benchCore()),
  threads: async () => reportThreads(await benchThreads()),
  serialization: async () => reportSerialization(await benchSerialization()),
  lambda: async () => reportLambda(await benchLambda()),
};

const chosen = process.argv.slice(2);
for (const name of chosen) {
  if (!(name in BENCHMARKS)) {
    console.error(`Unknown benchmark \`${name}\`. Choose from: ${Object.keys(BENCHMARKS).join(", ")}.`);
    process.exit(2);
  }
}
console.log(`node ${process.version}, ${process.platform}/${process.arch}`);
for (const name of chosen.length > 0 ? chosen : Object.keys(BENCHMARKS)) {
  console.log(`\n## ${name}\n\n${await BENCHMARKS[name]?.()}`);
}
