// Chaos: flows of 200 task runs on the local environment while its worker and coordinator
// execution environments are killed at random points (as Lambda ends one that crashes or runs
// out of memory: what it was doing is lost, its messages come back after their visibility
// timeout), and in some rounds the caller's process too. Whatever is killed when, every flow
// run must reach a final state; every task run that executed has exactly one outcome in the
// record; the summary agrees with the segments; and a caller that lived sees exactly what the
// record says. The kill schedule comes from a seed, printed with any failure
// (SQUALL_CHAOS_SEED=<seed> replays it).
import { randomInt } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type LocalEnvironment, S3ResultStore, startLocalEnvironment } from "squall/aws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openRunKey } from "../../sdk/aws/record/open-runs.js";
import { type RunSummary, readSegments, readSummary } from "../../sdk/aws/record/run-log.js";
import { sleep } from "../support/async.js";
import { type CallerProcess, queuesDrained, startCaller } from "../support/local-environment.js";
import { finalSummary, recordedByRun } from "../support/records.js";

const CALLER = new URL("../fixtures/chaos-flow.ts", import.meta.url);
const TASKS = 200;
const SEED = Number(process.env.SQUALL_CHAOS_SEED ?? randomInt(2 ** 31));
/** Kills of the worker or the coordinator per round, at most. */
const KILLS = 8;

/** A small seeded generator (mulberry32): the same seed, the same kills at the same points. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = seeded(SEED);
let local: LocalEnvironment;
let store: S3ResultStore;
let dir: string;

beforeAll(async () => {
  // Short visibility so that the messages of a killed environment come back within the test; a
  // run may die with its worker many times here, more than the default allows before Crashed.
  local = await startLocalEnvironment({
    workers: 2,
    visibilitySeconds: 3,
    workerTimeoutSeconds: 3,
    maxDeaths: 12,
    maxReceiveCount: 14,
    sweepSeconds: 1,
  });
  const { bucket, endpoint, region } = local.address;
  store = new S3ResultStore({ bucket, endpoint, region });
  dir = mkdtempSync(join(tmpdir(), "squall-chaos-"));
});
afterAll(async () => {
  await local?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Kills a worker or the coordinator every 50-400 ms until `over` says stop; what it killed. */
async function killAtRandom(over: () => boolean): Promise<string[]> {
  const killed: string[] = [];
  while (!over() && killed.length < KILLS) {
    await sleep(50 + random() * 350);
    if (over()) break;
    const fn = random() < 0.55 ? "worker" : "coordinator";
    if (local.kill(fn)) killed.push(fn);
  }
  return killed;
}

/** The run's summary once it is final (sweeps run every second meanwhile); says what it holds if never. */
async function finalSummaryOf(flowRunId: string, timeoutMs = 60_000): Promise<RunSummary> {
  const summary = await finalSummary(store, flowRunId, timeoutMs);
  if (summary?.state !== undefined) return summary;
  const { segments } = await readSegments(store, flowRunId, 0);
  throw new Error(
    `Flow run ${flowRunId} is not final after ${timeoutMs} ms: its summary ${JSON.stringify(summary)}; ${segments.length} segments, with ${segments.flatMap((s) => s.outcomes).length} outcomes and ${segments.filter((s) => s.returned).length} notices; open marker: ${await store.exists(openRunKey(flowRunId))}.`,
  );
}

/** Task run ids in the order their executions began, one line per execution. */
function executions(ledger: string): string[] {
  try {
    return readFileSync(ledger, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((line) => line.split(" ")[0] as string);
  } catch {
    return [];
  }
}

async function chaosRound(round: number, killCaller: boolean) {
  const context = `seed ${SEED}, round ${round}`;
  const ledger = join(dir, `ledger-${round}`);
  const caller: CallerProcess = startCaller(local, CALLER, [String(TASKS), ledger]);
  const started = await caller.lines((line) => line.startsWith("flow run "));
  const flowRunId = (started.find((line) => line.startsWith("flow run ")) as string).slice(
    "flow run ".length,
  );
  let callerGone = false;
  void caller.exited.then(() => {
    callerGone = true;
  });
  if (killCaller) {
    const at = random() * 1_000;
    void sleep(at).then(() => caller.child.kill("SIGKILL"));
  }
  const killed = await killAtRandom(() => callerGone);
  const { code, lines } = await caller.exited;

  if (killCaller && !(await store.exists(openRunKey(flowRunId)))) {
    // Killed before it marked its run open, so before it sent anything: nothing ran or was recorded.
    await queuesDrained(local, 60_000);
    expect(executions(ledger), context).toEqual([]);
    expect(await readSegments(store, flowRunId, 0), context).toEqual({ segments: [], next: 0 });
    return { killed, callerLived: false };
  }
  const summary = await finalSummaryOf(flowRunId);
  // Every copy of every message handled, then a sweep: nothing can change the record after.
  await queuesDrained(local, 60_000);
  await local.sweep();
  const final = (await readSummary(store, flowRunId)) as RunSummary;
  const { segments, next } = await readSegments(store, flowRunId, 0);
  const byRun = await recordedByRun(store, flowRunId);
  const executed = new Set(executions(ledger));
  const said = `${context}: killed ${killed.join(", ") || "nothing"}${killCaller ? " and the caller" : ""}`;

  // Each task run that executed has exactly one outcome, Completed; none that never ran has one.
  expect([...byRun.keys()].sort(), said).toEqual([...executed].sort());
  for (const [taskRunId, recorded] of byRun) {
    expect(
      recorded.map((o) => `${o.status} ${o.attempt}`),
      `${said}: ${taskRunId}`,
    ).toEqual(["completed 1"]);
  }
  // The summary says what the segments say, and the run stays final.
  expect(final.nextSegment, said).toBe(next);
  expect(final.counts, said).toEqual({ completed: byRun.size, failed: 0, crashed: 0, cancelled: 0 });
  expect(final.state, said).toBe(summary.state);
  expect(await store.exists(openRunKey(flowRunId)), said).toBe(false);

  const returned = segments.flatMap((segment) => (segment.returned ? [segment.returned] : []));
  expect(returned, said).toHaveLength(1);
  if (code === 0) {
    // The caller lived: it got every square, and the record agrees with it.
    const squares = lines.find((line) => line.startsWith("squares ")) as string;
    expect(JSON.parse(squares.slice("squares ".length)), said).toEqual(
      Array.from({ length: TASKS }, (_, n) => n * n),
    );
    expect(lines.at(-1), said).toBe("returned");
    expect(byRun.size, said).toBe(TASKS);
    expect(final.state, said).toBe("Completed");
    expect(returned[0], said).toMatchObject({ flowRunId, state: "Completed", tasks: TASKS });
  } else {
    expect(killCaller, `${said}: the caller exited ${code}:\n${lines.join("\n")}`).toBe(true);
    expect(final.state, said).toBe("Crashed");
    expect(returned[0]?.message, said).toMatch(/^The caller stopped at .*: no heartbeat for 3 seconds\./);
  }
  return { killed, callerLived: code === 0 };
}

describe("the local environment's kill()", () => {
  it("refuses a name that is not one of its functions, killing nothing", () => {
    expect(() => local.kill("workers" as "worker")).toThrow(
      'Expected kill() to name the function whose execution environment ends, "worker", "coordinator" or "flow-runner", got `workers`',
    );
  });
});

describe(`chaos: the caller, a worker and the coordinator killed at random points (seed ${SEED})`, () => {
  it("ends every flow run, with one outcome per task run that ran and a record that agrees", {
    timeout: 300_000,
  }, async () => {
    const rounds = [];
    for (const [round, killCaller] of [false, true, false, true].entries()) {
      rounds.push(await chaosRound(round, killCaller));
    }
    // The schedule did kill: each function at least once over the rounds, and callers.
    const killed = rounds.flatMap((r) => r.killed);
    expect(killed).toContain("worker");
    expect(killed).toContain("coordinator");
    expect(rounds.map((r) => r.callerLived)).toEqual([true, false, true, false]);
  });
});
