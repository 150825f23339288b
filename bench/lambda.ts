// The Lambda runner on the local environment (embedded emulator, worker and coordinator
// functions in threads): no-op throughput at a fan-out of 10,000 against the in-process runners,
// the AWS requests each task costs by API and what they come to at list prices, and the round
// trip of one task.
import { availableParallelism } from "node:os";
import { ConcurrentTaskRunner, flow, type TaskRunner, ThreadPoolTaskRunner } from "squall";
import { LambdaTaskRunner, type LocalEnvironment, startLocalEnvironment } from "squall/aws";
import {
  countEmulatorRequests,
  countSdkRequests,
  type ServedRequests,
  type Tally,
} from "./count-requests.js";
import { noopInLambda } from "./lambda-tasks.js";
import { formatRate } from "./measure.js";

const FAN_OUT = 10_000;
const ROUNDS = 3;
/** The in-process baselines are quick: more rounds steady their medians. */
const BASELINE_ROUNDS = 5;
const SEQUENTIAL = 200;
/** After a flow run returns, its window stays open this long: the coordinator records the run's end, pollers idle. */
const SETTLE_MS = 1_000;

/** List prices, US East, arm64 Lambda. */
const PRICE = {
  lambdaGbSecond: 0.0000133334,
  lambdaRequest: 0.2 / 1e6,
  sqsRequest: 0.4 / 1e6,
  s3Put: 0.005 / 1000,
  s3Get: 0.0004 / 1000,
} as const;
/** The tasks priced: 100 ms each at 1 GB. */
const TASK_SECONDS = 0.1;
const TASK_GB = 1;

function fanOut(runner: TaskRunner) {
  return flow({ name: `lambda-bench-fan-out-${runner.name}`, taskRunner: runner }, async (count: number) => {
    const range = Array.from({ length: count }, (_, i) => i);
    const results = await noopInLambda.map(range).result();
    if (results.length !== count) throw new Error(`Expected ${count} results, got ${results.length}`);
  });
}

function oneByOne(runner: TaskRunner) {
  return flow(
    { name: `lambda-bench-sequential-${runner.name}`, taskRunner: runner },
    async (count: number) => {
      const millis: number[] = [];
      for (let i = 0; i < count; i++) {
        const start = performance.now();
        await noopInLambda.submit(i).result();
        millis.push(performance.now() - start);
      }
      return millis;
    },
  );
}

export interface Runs {
  /** Tasks per second of each round, in order. */
  readonly rates: readonly number[];
  readonly median: number;
}

export interface Latency {
  readonly p50: number;
  readonly p99: number;
  readonly mean: number;
}

/** What one window (a flow run and its settling) cost in AWS requests. */
export interface Requests {
  readonly tasks: number;
  /** The emulator's count, from every thread. */
  readonly served: readonly ServedRequests[];
  /** This process's SDK middleware count. */
  readonly sdk: Tally;
}

export interface LambdaResults {
  readonly workers: number;
  readonly environmentStartSeconds: number;
  readonly concurrent: Runs;
  readonly threadPool: Runs;
  readonly lambdaFirst: number;
  readonly lambda: Runs;
  /** The rounds' requests, summed; `tasks` is the rounds' tasks. */
  readonly fanOutRequests: Requests;
  readonly threadPoolLatency: Latency;
  readonly lambdaLatency: Latency;
  readonly sequentialRequests: Requests;
}

/** Times `rounds` flow runs of FAN_OUT tasks; `between` runs after each, untimed. */
async function timeRuns(
  rounds: number,
  run: () => Promise<void>,
  between?: () => Promise<void>,
): Promise<Runs> {
  const rates: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const start = performance.now();
    await run();
    rates.push(FAN_OUT / ((performance.now() - start) / 1000));
    await between?.();
  }
  const sorted = [...rates].sort((a, b) => a - b);
  return { rates, median: sorted[Math.floor(sorted.length / 2)] as number };
}

/** Nearest-rank percentiles. */
function latencyOf(millis: readonly number[]): Latency {
  const sorted = [...millis].sort((a, b) => a - b);
  const rank = (p: number) => sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] as number;
  return { p50: rank(0.5), p99: rank(0.99), mean: sorted.reduce((sum, x) => sum + x, 0) / sorted.length };
}

export async function benchLambda(): Promise<LambdaResults> {
  const workers = availableParallelism();

  // Baselines first, while no environment runs beside them; each after a warm-up run.
  const concurrentFlow = fanOut(new ConcurrentTaskRunner());
  await concurrentFlow(FAN_OUT);
  const concurrent = await timeRuns(BASELINE_ROUNDS, () => concurrentFlow(FAN_OUT));
  const pool = new ThreadPoolTaskRunner({ maxWorkers: workers });
  let threadPool: Runs | undefined;
  let threadPoolMillis: number[] = [];
  // An enclosing flow on the pool keeps its threads running, as the environment is kept below.
  await flow({ name: "lambda-bench-keep-pool", taskRunner: pool }, async () => {
    const poolFlow = fanOut(pool);
    await poolFlow(FAN_OUT);
    threadPool = await timeRuns(BASELINE_ROUNDS, () => poolFlow(FAN_OUT));
    threadPoolMillis = await oneByOne(pool)(SEQUENTIAL);
  })();

  // Counting starts before the environment: the emulator counter finds the emulator as it is built.
  const served = countEmulatorRequests();
  const sdk = countSdkRequests();
  let local: LocalEnvironment | undefined;
  try {
    const started = performance.now();
    local = await startLocalEnvironment({ workers });
    const environmentStartSeconds = (performance.now() - started) / 1000;
    const { address } = local;
    served.nameQueues({
      [address.taskQueueUrl]: "task queue",
      [address.completionQueueUrl]: "completion queue",
      [local.deadLetterQueueUrl]: "dead-letter queue",
    });
    const runner = new LambdaTaskRunner(address);
    const lambdaFlow = fanOut(runner);
    // A window runs from a flow run's start until SETTLE_MS after it returned.
    const closeWindow = async (tasks: number): Promise<Requests> => {
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      return { tasks, served: served.take(), sdk: sdk.take() };
    };

    // The first flow run also has the function threads import the tasks module.
    const first = performance.now();
    await lambdaFlow(FAN_OUT);
    const lambdaFirst = FAN_OUT / ((performance.now() - first) / 1000);
    await closeWindow(FAN_OUT);

    const windows: Requests[] = [];
    const lambda = await timeRuns(
      ROUNDS,
      () => lambdaFlow(FAN_OUT),
      async () => {
        windows.push(await closeWindow(FAN_OUT));
      },
    );
    const lambdaMillis = await oneByOne(runner)(SEQUENTIAL);
    const sequentialRequests = await closeWindow(SEQUENTIAL);
    return {
      workers,
      environmentStartSeconds,
      concurrent,
      threadPool: threadPool as Runs,
      lambdaFirst,
      lambda,
      fanOutRequests: sumWindows(windows),
      threadPoolLatency: latencyOf(threadPoolMillis),
      lambdaLatency: latencyOf(lambdaMillis),
      sequentialRequests,
    };
  } finally {
    sdk.stop();
    served.stop();
    await local?.stop();
  }
}

function sumWindows(windows: readonly Requests[]): Requests {
  const rows = new Map<string, ServedRequests>();
  const sdk: Tally = new Map();
  for (const window of windows) {
    for (const row of window.served) {
      const key = `${row.origin}|${row.service}|${row.api}|${row.target}`;
      const sum = rows.get(key);
      if (!sum) rows.set(key, { ...row });
      else {
        sum.requests += row.requests;
        sum.billed += row.billed;
        sum.messages += row.messages;
        sum.bytes += row.bytes;
        sum.emptyWaited += row.emptyWaited;
        sum.emptyWoken += row.emptyWoken;
        sum.emptyShort += row.emptyShort;
        sum.errors += row.errors;
      }
    }
    for (const [key, count] of window.sdk) sdk.set(key, (sdk.get(key) ?? 0) + count);
  }
  return { tasks: windows.reduce((sum, w) => sum + w.tasks, 0), served: [...rows.values()], sdk };
}

/** What a window's requests come to: totals by price class, invocations, idle polls. */
interface Bill {
  readonly sqsRequests: number;
  readonly sqsBilled: number;
  readonly s3Put: number;
  readonly s3Get: number;
  readonly s3Free: number;
  /** Empty receives: long polls that waited out, that were woken and lost, short polls of a batching window. */
  readonly emptyWaited: number;
  readonly emptyWoken: number;
  readonly emptyShort: number;
  /** Task-queue receives that returned messages: the local mapping has no batching window for workers, so one per invocation. */
  readonly workerInvocations: number;
  /** Completion and dead-letter DeleteMessageBatch calls: a coordinator invocation deletes its batch (10 at most) in one. */
  readonly coordinatorInvocations: number;
}

function billOf(requests: Requests): Bill {
  const sum = (pick: (row: ServedRequests) => number, where: (row: ServedRequests) => boolean) =>
    requests.served.filter(where).reduce((total, row) => total + pick(row), 0);
  const fromFunctions = (api: string, targets: string[]) => (row: ServedRequests) =>
    row.origin === "functions" && row.api === api && targets.includes(row.target);
  return {
    sqsRequests: sum(
      (r) => r.requests,
      (r) => r.service === "SQS",
    ),
    sqsBilled: sum(
      (r) => r.billed,
      (r) => r.service === "SQS",
    ),
    s3Put: sum(
      (r) => r.billed,
      (r) => r.priceClass === "put",
    ),
    s3Get: sum(
      (r) => r.billed,
      (r) => r.priceClass === "get",
    ),
    s3Free: sum(
      (r) => r.requests,
      (r) => r.priceClass === "free",
    ),
    emptyWaited: sum(
      (r) => r.emptyWaited,
      (r) => r.api === "ReceiveMessage",
    ),
    emptyWoken: sum(
      (r) => r.emptyWoken,
      (r) => r.api === "ReceiveMessage",
    ),
    emptyShort: sum(
      (r) => r.emptyShort,
      (r) => r.api === "ReceiveMessage",
    ),
    workerInvocations: sum(
      (r) => r.requests - r.emptyWaited - r.emptyWoken - r.emptyShort,
      fromFunctions("ReceiveMessage", ["task queue"]),
    ),
    coordinatorInvocations: sum(
      (r) => r.requests,
      fromFunctions("DeleteMessageBatch", ["completion queue", "dead-letter queue"]),
    ),
  };
}

/** Dollars per million tasks, by item. */
function costPerMillion(bill: Bill, tasks: number) {
  const perMillion = (count: number, price: number) => (count / tasks) * 1e6 * price;
  const items = {
    compute: 1e6 * TASK_SECONDS * TASK_GB * PRICE.lambdaGbSecond,
    lambdaRequests: perMillion(bill.workerInvocations + bill.coordinatorInvocations, PRICE.lambdaRequest),
    sqs: perMillion(bill.sqsBilled, PRICE.sqsRequest),
    s3Put: perMillion(bill.s3Put, PRICE.s3Put),
    s3Get: perMillion(bill.s3Get, PRICE.s3Get),
  };
  return { ...items, total: Object.values(items).reduce((sum, x) => sum + x, 0) };
}

const int = (n: number) => Math.round(n).toLocaleString("en-US");
const ms = (n: number) => `${n.toFixed(1)} ms`;
const dollars = (n: number) => `$${n.toFixed(4)}`;
const met = (ok: boolean) => (ok ? "met" : "NOT met");

function detail(row: ServedRequests, per: number): string {
  const parts: string[] = [];
  if (row.messages > 0 || row.api === "ReceiveMessage") {
    const count = row.messages / per;
    const bytes = row.bytes > 0 ? `, ${int(row.bytes / row.messages)} bytes each` : "";
    parts.push(`${int(count)} message${Math.round(count) === 1 ? "" : "s"}${bytes}`);
  }
  const empty: [number, string][] = [
    [row.emptyWaited, "idle long polls"],
    [row.emptyWoken, "woken long polls that lost the race"],
    [row.emptyShort, "empty short polls"],
  ];
  for (const [count, what] of empty) if (count > 0) parts.push(`${what}: ${int(count / per)}`);
  if (row.errors > 0) parts.push(`answered 4xx: ${int(row.errors / per)}`);
  return parts.join("; ");
}

/** The requests by origin, API and target: per flow run (the mean of `runs`) and per task. */
function breakdown(requests: Requests, runs: number): string[] {
  const order = (row: ServedRequests) => `${row.origin === "caller" ? 0 : 1}${row.service}`;
  const rows = [...requests.served].sort(
    (a, b) => order(a).localeCompare(order(b)) || b.requests - a.requests || a.api.localeCompare(b.api),
  );
  return [
    "| from | API | on | requests per flow run | billed | per task | detail |",
    "|---|---|---|---|---|---|---|",
    ...rows.map(
      (row) =>
        `| ${row.origin} | ${row.service} ${row.api} | ${row.target} | ${int(row.requests / runs)} | ${int(row.billed / runs)} | ${(row.requests / requests.tasks).toFixed(4)} | ${detail(row, runs)} |`,
    ),
  ];
}

/** The message bytes `origin` sent to `queue`. */
function bytesOf(requests: Requests, origin: ServedRequests["origin"], queue: string): number {
  return requests.served
    .filter((row) => row.origin === origin && row.api === "SendMessageBatch" && row.target === queue)
    .reduce((sum, row) => sum + row.bytes, 0);
}

/** Whether this process's SDK middleware saw what the emulator says this process sent. */
function crossCheck(requests: Requests): string {
  const fromCaller = new Map<string, number>();
  for (const row of requests.served.filter((r) => r.origin === "caller")) {
    const key = `${row.service} ${row.api}`;
    fromCaller.set(key, (fromCaller.get(key) ?? 0) + row.requests);
  }
  const keys = [...new Set([...fromCaller.keys(), ...requests.sdk.keys()])].sort();
  const differs = keys.filter((key) => (fromCaller.get(key) ?? 0) !== (requests.sdk.get(key) ?? 0));
  const counted = keys.map((key) => `${key} ${int(requests.sdk.get(key) ?? 0)}`).join(", ");
  return differs.length === 0
    ? `the SDK middleware in this process counted ${counted}: the same as the emulator's count of this process's requests.`
    : `the SDK middleware in this process counted ${counted}; the emulator differs on ${differs.join(", ")}.`;
}

export function reportLambda(r: LambdaResults): string {
  const rate = (runs: Runs) => `${formatRate(runs.median)} (${runs.rates.map(formatRate).join(", ")})`;
  const ratio = (value: number) =>
    `${(value / r.concurrent.median).toFixed(4)} | ${(value / r.threadPool.median).toFixed(3)}`;
  const fan = r.fanOutRequests;
  const bill = billOf(fan);
  const perTask = (n: number) => (n / fan.tasks).toFixed(4);
  const cost = costPerMillion(bill, fan.tasks);
  const seq = r.sequentialRequests;
  const seqBill = billOf(seq);
  const seqRequests = seq.served.reduce((sum, row) => sum + row.requests, 0);
  const invocations = bill.workerInvocations + bill.coordinatorInvocations;
  return [
    `LambdaTaskRunner on the local environment (${r.workers} worker threads, 1 coordinator thread, embedded emulator):`,
    `${int(FAN_OUT)} no-op task runs per flow run (\`noop.map(range).result()\`), timed from the flow's start to its`,
    `return; ${ROUNDS} rounds on one kept environment after a first run (baselines: ${BASELINE_ROUNDS} rounds after a warm-up).`,
    `Environment start: ${r.environmentStartSeconds.toFixed(2)} s.`,
    "",
    "| runner | tasks per second: median (each round) | ratio to ConcurrentTaskRunner | ratio to ThreadPoolTaskRunner |",
    "|---|---|---|---|",
    `| ConcurrentTaskRunner (baseline, same process) | ${rate(r.concurrent)} | ${ratio(r.concurrent.median)} |`,
    `| ThreadPoolTaskRunner, ${r.workers} workers, pool running | ${rate(r.threadPool)} | ${ratio(r.threadPool.median)} |`,
    `| LambdaTaskRunner, first flow run (threads import the tasks module) | ${formatRate(r.lambdaFirst)} | ${ratio(r.lambdaFirst)} |`,
    `| LambdaTaskRunner, environment kept | ${rate(r.lambda)} | ${ratio(r.lambda.median)} |`,
    "",
    `AWS requests per flow run of ${int(FAN_OUT)} tasks (mean of ${ROUNDS}), counted at the emulator from every thread;`,
    `each window runs from the flow's start to ${SETTLE_MS / 1000} s after it returned, idle long polls (1 s each) included.`,
    "`billed`: SQS bills each 64 KB of payload as a request; S3 one per request.",
    "",
    ...breakdown(fan, ROUNDS),
    "",
    `Payload per task run: ${int(bytesOf(fan, "caller", "task queue") / fan.tasks)} bytes in task messages, ${int(bytesOf(fan, "functions", "completion queue") / fan.tasks)} bytes in outcome messages.`,
    `Over the ${ROUNDS} rounds, ${crossCheck(fan)}`,
    "",
    "| per task | requests | billed |",
    "|---|---|---|",
    `| SQS | ${perTask(bill.sqsRequests)} | ${perTask(bill.sqsBilled)} |`,
    `| S3 PUT, COPY, POST, LIST | ${perTask(bill.s3Put)} | ${perTask(bill.s3Put)} |`,
    `| S3 GET, HEAD | ${perTask(bill.s3Get)} | ${perTask(bill.s3Get)} |`,
    `| SQS + S3 (target <= 0.1) | ${perTask(bill.sqsRequests + bill.s3Put + bill.s3Get + bill.s3Free)} | ${perTask(bill.sqsBilled + bill.s3Put + bill.s3Get)} |`,
    `| Lambda invocations: ${int(bill.workerInvocations / ROUNDS)} worker + ${int(bill.coordinatorInvocations / ROUNDS)} coordinator per flow run | ${perTask(invocations)} | |`,
    "",
    "Worker invocations: task-queue receives that returned messages (the local event source mapping has no",
    "batching window for workers: one receive per invocation). Coordinator invocations: its DeleteMessageBatch",
    "calls (each invocation deletes its batch of at most 10 in one call).",
    "",
    `Cost per million tasks of ${TASK_SECONDS * 1000} ms at ${TASK_GB} GB, arm64, list prices:`,
    "",
    "| item | arithmetic | $ per million tasks |",
    "|---|---|---|",
    `| Lambda compute (the floor) | 1e6 x ${TASK_SECONDS} s x ${TASK_GB} GB x $${PRICE.lambdaGbSecond} | ${dollars(cost.compute)} |`,
    `| Lambda requests | ${perTask(invocations)} invocations/task x 1e6 x $0.20/M | ${dollars(cost.lambdaRequests)} |`,
    `| SQS | ${perTask(bill.sqsBilled)} billed/task x 1e6 x $0.40/M | ${dollars(cost.sqs)} |`,
    `| S3 PUT-class | ${perTask(bill.s3Put)}/task x 1e6 x $0.005/1,000 | ${dollars(cost.s3Put)} |`,
    `| S3 GET-class | ${perTask(bill.s3Get)}/task x 1e6 x $0.0004/1,000 | ${dollars(cost.s3Get)} |`,
    `| total (target <= $1.45) | | ${dollars(cost.total)} |`,
    "",
    `Round trip of one task: ${SEQUENTIAL} in a row in one flow run (\`await noop.submit(i).result()\`):`,
    "",
    "| runner | p50 | p99 | mean |",
    "|---|---|---|---|",
    `| ThreadPoolTaskRunner, ${r.workers} workers, pool running | ${ms(r.threadPoolLatency.p50)} | ${ms(r.threadPoolLatency.p99)} | ${ms(r.threadPoolLatency.mean)} |`,
    `| LambdaTaskRunner, local environment | ${ms(r.lambdaLatency.p50)} | ${ms(r.lambdaLatency.p99)} | ${ms(r.lambdaLatency.mean)} |`,
    "",
    `One task at a time costs ${(seqRequests / seq.tasks).toFixed(1)} requests per task, of them empty receives:`,
    `${(seqBill.emptyWaited / seq.tasks).toFixed(2)} idle long polls, ${(seqBill.emptyWoken / seq.tasks).toFixed(2)} woken long polls that lost the race`,
    `(an emulator artifact), ${(seqBill.emptyShort / seq.tasks).toFixed(2)} empty short polls (the coordinator's batching window):`,
    "",
    ...breakdown(seq, 1),
    "",
    `Targets: >= 2,000 tasks/s ${met(r.lambda.median >= 2000)}; <= 0.1 SQS+S3 requests per task ${met(
      (bill.sqsBilled + bill.s3Put + bill.s3Get) / fan.tasks <= 0.1,
    )}; <= $1.45 per million tasks ${met(cost.total <= 1.45)}.`,
  ].join("\n");
}
