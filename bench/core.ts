// Core engine overhead: 100,000 no-op task runs submitted and resolved in one flow,
// against a bare Promise.all over the same function in the same process.
import { ConcurrentTaskRunner, flow, SequentialTaskRunner, type TaskRunner, task } from "squall";
import { formatRate, heapUsedAfterGc, type Sample, sample, throughput } from "./measure.js";

const RUNS = 100_000;
const ROUNDS = 5;

function noopFn(i: number): number {
  return i;
}
const noop = task({ name: "noop" }, noopFn);

function submitAll(runner: TaskRunner) {
  return flow({ name: `noops-${runner.name}`, taskRunner: runner }, async (count: number) => {
    const futures = new Array(count);
    for (let i = 0; i < count; i++) futures[i] = noop.submit(i);
    for (let i = 0; i < count; i++) futures[i] = futures[i].result();
    await Promise.all(futures);
  });
}

async function bare(count: number): Promise<void> {
  const promises = new Array(count);
  for (let i = 0; i < count; i++) promises[i] = (async () => noopFn(i))();
  await Promise.all(promises);
}

export interface CoreResults {
  readonly bare: Sample;
  readonly concurrent: Sample;
  readonly sequential: Sample;
  readonly heapGrowthPerFlowRun: number;
}

export async function benchCore(): Promise<CoreResults> {
  const concurrentFlow = submitAll(new ConcurrentTaskRunner());
  const sequentialFlow = submitAll(new SequentialTaskRunner());
  const bareRate = await sample(ROUNDS, () => throughput(RUNS, () => bare(RUNS)));
  const concurrent = await sample(ROUNDS, () => throughput(RUNS, () => concurrentFlow(RUNS)));
  const sequential = await sample(ROUNDS, () => throughput(RUNS, () => sequentialFlow(RUNS)));

  // Memory across flow runs: nothing is kept per finished run, so the heap stays flat.
  const flowRuns = 40;
  for (let i = 0; i < 5; i++) await concurrentFlow(10_000);
  const before = heapUsedAfterGc();
  for (let i = 0; i < flowRuns; i++) await concurrentFlow(10_000);
  const after = heapUsedAfterGc();
  return {
    bare: bareRate,
    concurrent,
    sequential,
    heapGrowthPerFlowRun: (after - before) / flowRuns,
  };
}

export function reportCore(results: CoreResults): string {
  const ratio = (s: Sample) => (s.median / results.bare.median).toFixed(3);
  const line = (label: string, s: Sample) =>
    `| ${label} | ${formatRate(s.median)} | ${formatRate(s.min)} - ${formatRate(s.max)} | ${ratio(s)} |`;
  return [
    `${RUNS.toLocaleString("en-US")} no-op task runs submitted and resolved in one flow (median of ${ROUNDS} rounds)`,
    "",
    "| runner | runs per second | range | ratio to bare Promise.all |",
    "|---|---|---|---|",
    line("bare Promise.all (baseline)", results.bare),
    line("ConcurrentTaskRunner", results.concurrent),
    line("SequentialTaskRunner", results.sequential),
    "",
    `Heap growth per finished flow run of 10,000 task runs: ${Math.round(results.heapGrowthPerFlowRun).toLocaleString("en-US")} bytes`,
  ].join("\n");
}
