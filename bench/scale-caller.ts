// One flow of no-op task runs over a stream of items, in a process of its own so that its peak
// RSS is the flow's alone; bench/scale.ts runs it. Prints one JSON line of figures.
//   scale-caller.ts <concurrent|lambda> <runs> <stream|map|batches|kept> [maxInFlight]
// "stream" reads `mapStream()` over an async generator and sums the results; "map" is what a flow
// had to do before (`map()` over an array, then `result()`). "batches" and "kept" measure what a
// finished run leaves behind (heap after GC, run with --expose-gc): "batches" maps 10,000 at a time
// and lets the futures go, "kept" keeps every future too. The Lambda runner's address comes as JSON
// in SQUALL_BENCH_ADDRESS.
import { ConcurrentTaskRunner, configureLogging, flow, type TaskRunner } from "squall";
import { LambdaTaskRunner } from "squall/aws";
import { noopInLambda } from "./lambda-tasks.js";
import { heapUsedAfterGc } from "./measure.js";

configureLogging({ level: "WARNING" });
const [kind = "concurrent", countText = "100000", how = "stream", inFlightText = "1000"] =
  process.argv.slice(2);
const count = Number(countText);
const maxInFlight = Number(inFlightText);

function runner(): TaskRunner {
  if (kind === "concurrent") return new ConcurrentTaskRunner();
  const address = JSON.parse(process.env.SQUALL_BENCH_ADDRESS ?? "{}");
  return new LambdaTaskRunner({ ...address, callerSilenceSeconds: 600 });
}

async function* numbers(n: number) {
  for (let i = 0; i < n; i++) yield i;
}

let peakRss = process.memoryUsage().rss;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 50);
const startRss = process.memoryUsage().rss;
let bytesPerRun: number | undefined;
const scale = flow({ name: `scale-${kind}-${how}`, taskRunner: runner() }, async (n: number) => {
  let sum = 0;
  if (how === "batches" || how === "kept") {
    await noopInLambda.map([0]).result(); // the runner's first run sets up what every run shares
    const kept: unknown[] = [];
    const before = heapUsedAfterGc();
    for (let done = 0; done < n; done += 10_000) {
      const futures = noopInLambda.map(
        Array.from({ length: Math.min(10_000, n - done) }, (_, i) => done + i),
      );
      for (const value of await futures.result()) sum += value;
      if (how === "kept") kept.push(futures);
    }
    bytesPerRun = (heapUsedAfterGc() - before) / n;
    if (kept.length === 0 && how === "kept") throw new Error("Expected the futures to be kept");
  } else if (how === "map") {
    for (const value of await noopInLambda.map(Array.from({ length: n }, (_, i) => i)).result()) sum += value;
  } else {
    for await (const value of noopInLambda.mapStream(numbers(n), { maxInFlight })) sum += value;
  }
  return sum;
});
const start = performance.now();
const sum = await scale(count);
const seconds = (performance.now() - start) / 1000;
clearInterval(sampler);
if (sum !== (count * (count - 1)) / 2) throw new Error(`Expected the sum of 0..${count - 1}, got ${sum}`);
// The kernel's own peak, which the sampler may have missed between samples.
peakRss = Math.max(peakRss, process.resourceUsage().maxRSS * 1024);
process.stdout.write(
  `${JSON.stringify({ kind, how, count, maxInFlight, seconds, startRss, peakRss, bytesPerRun })}\n`,
);
