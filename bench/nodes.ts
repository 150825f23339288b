// `npm run bench:nodes`: the core, thread pool and Lambda runner benchmarks under each supported
// Node, back to back on this machine (each Node fetched by .ci/with-node), then one table setting
// each figure, and its ratio to the baseline of its own process, under Node 24 next to Node 22.
// `-- --passes 2` runs 22, 24, 24, 22 and keeps each Node's better pass, which evens out drift.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CoreResults } from "./core.js";
import type { LambdaResults } from "./lambda.js";
import { formatRate } from "./measure.js";
import type { ThreadResults } from "./threads.js";

const NODES = ["22", "24"] as const;
const BENCHMARKS = ["core", "threads", "lambda"];

interface Figures {
  readonly node: string;
  readonly core: CoreResults;
  readonly threads: ThreadResults;
  readonly lambda: LambdaResults;
}

const passesAt = process.argv.indexOf("--passes");
const passes = passesAt >= 0 ? Number(process.argv[passesAt + 1]) : 1;
if (!Number.isInteger(passes) || passes < 1 || passes > 5) {
  console.error(`Expected \`--passes\` to be an integer from 1 to 5, got \`${process.argv[passesAt + 1]}\``);
  process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), "squall-bench-nodes-"));
const runs: Record<string, Figures[]> = { "22": [], "24": [] };
try {
  for (let pass = 0; pass < passes; pass++) {
    for (const major of pass % 2 === 0 ? NODES : [...NODES].reverse()) {
      const file = join(dir, `node${major}-${pass}.json`);
      const bench = [
        "node",
        "--expose-gc",
        "--import",
        "tsx",
        "bench/index.ts",
        ...BENCHMARKS,
        "--json",
        file,
      ];
      const { status } = spawnSync("bash", [".ci/with-node", major, ...bench], { stdio: "inherit" });
      if (status !== 0) throw new Error(`The benchmarks under Node ${major} ended with status ${status}.`);
      runs[major]?.push(JSON.parse(readFileSync(file, "utf8")) as Figures);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/** A figure of one run, its ratio to that run's baseline (if any), and whether more is better. */
interface Row {
  readonly label: string;
  readonly value: (f: Figures) => number;
  readonly format: (n: number) => string;
  readonly baseline?: (f: Figures) => number;
  readonly higherIsBetter: boolean;
}

const seconds = (n: number) => `${n.toFixed(2)} s`;
const millis = (n: number) => `${n.toFixed(1)} ms`;
const times = (n: number) => `${n.toFixed(2)}x`;
const plain = (n: number) => n.toFixed(4);
const lambdaRequests = (f: Figures) =>
  f.lambda.fanOutRequests.served.reduce((sum, row) => sum + row.requests, 0) / f.lambda.fanOutRequests.tasks;

const ROWS: Row[] = [
  {
    label: "core: bare Promise.all (baseline)",
    value: (f) => f.core.bare.median,
    format: formatRate,
    higherIsBetter: true,
  },
  {
    label: "core: ConcurrentTaskRunner",
    value: (f) => f.core.concurrent.median,
    format: formatRate,
    baseline: (f) => f.core.bare.median,
    higherIsBetter: true,
  },
  {
    label: "core: SequentialTaskRunner",
    value: (f) => f.core.sequential.median,
    format: formatRate,
    baseline: (f) => f.core.bare.median,
    higherIsBetter: true,
  },
  {
    label: "threads: ConcurrentTaskRunner (baseline)",
    value: (f) => f.threads.concurrentNoops.median,
    format: formatRate,
    higherIsBetter: true,
  },
  {
    label: "threads: no-op runs",
    value: (f) => f.threads.threadNoops.median,
    format: formatRate,
    baseline: (f) => f.threads.concurrentNoops.median,
    higherIsBetter: true,
  },
  {
    label: "threads: 200 async 100 ms tasks (s)",
    value: (f) => f.threads.threadWaits.median,
    format: (v) => v.toFixed(2),
    baseline: (f) => f.threads.concurrentWaits.median,
    higherIsBetter: false,
  },
  {
    label: "threads: one-task flow run, new pool (s)",
    value: (f) => f.threads.oneTaskNewPool.median,
    format: (v) => v.toFixed(3),
    baseline: (f) => f.threads.concurrentOneTask.median,
    higherIsBetter: false,
  },
  ...[0, 1].map(
    (i): Row => ({
      label: `threads: CPU-bound speed-up, ${i === 0 ? 1 : 5} s of work`,
      value: (f) => {
        return f.threads.cpu[i]?.speedUp ?? Number.NaN;
      },
      format: times,
      higherIsBetter: true,
    }),
  ),
  {
    label: "lambda: ConcurrentTaskRunner (baseline)",
    value: (f) => f.lambda.concurrent.median,
    format: formatRate,
    higherIsBetter: true,
  },
  {
    label: "lambda: environment kept",
    value: (f) => f.lambda.lambda.median,
    format: formatRate,
    baseline: (f) => f.lambda.concurrent.median,
    higherIsBetter: true,
  },
  {
    label: "lambda: first flow run",
    value: (f) => f.lambda.lambdaFirst,
    format: formatRate,
    baseline: (f) => f.lambda.concurrent.median,
    higherIsBetter: true,
  },
  {
    label: "lambda: environment start",
    value: (f) => f.lambda.environmentStartSeconds,
    format: seconds,
    higherIsBetter: false,
  },
  {
    label: "lambda: round trip p50",
    value: (f) => f.lambda.lambdaLatency.p50,
    format: millis,
    higherIsBetter: false,
  },
  {
    label: "lambda: round trip p99",
    value: (f) => f.lambda.lambdaLatency.p99,
    format: millis,
    higherIsBetter: false,
  },
  {
    label: "lambda: SQS + S3 requests per task",
    value: lambdaRequests,
    format: plain,
    higherIsBetter: false,
  },
];

/** Of several passes under one Node, the one whose figure is best. */
function best(row: Row, figures: readonly Figures[]): Figures {
  const sorted = [...figures].sort((a, b) => row.value(a) - row.value(b));
  return (row.higherIsBetter ? sorted.at(-1) : sorted[0]) as Figures;
}

function cell(row: Row, f: Figures): string {
  const ratio = row.baseline ? ` (${(row.value(f) / row.baseline(f)).toFixed(3)})` : "";
  return `${row.format(row.value(f))}${ratio}`;
}

const [n22, n24] = [runs["22"] as Figures[], runs["24"] as Figures[]];
console.log(
  `\n## Node ${n22[0]?.node} and Node ${n24[0]?.node}, back to back (${passes} pass${passes > 1 ? "es" : ""} each)\n`,
);
console.log("| figure | Node 22 (ratio to its baseline) | Node 24 (ratio to its baseline) | 24 / 22 |");
console.log("|---|---|---|---|");
for (const row of ROWS) {
  const [a, b] = [best(row, n22), best(row, n24)];
  const change = (row.value(b) / row.value(a)).toFixed(2);
  console.log(`| ${row.label} | ${cell(row, a)} | ${cell(row, b)} | ${change} |`);
}
