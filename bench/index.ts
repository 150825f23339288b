// `npm run bench`: prints each benchmark's table. Figures are ratios against a baseline
// run in the same process, since these machines are noisy.
import { configureLogging } from "squall";
import { benchCore, reportCore } from "./core.js";

configureLogging({ level: "WARNING" }); // one INFO line per flow run would be measured too

console.log(`node ${process.version}, ${process.platform}/${process.arch}\n`);
console.log(reportCore(await benchCore()));
