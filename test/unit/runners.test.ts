import {
  ConcurrentTaskRunner,
  configureLogging,
  type FlowRunInfo,
  flow,
  getRunContext,
  InvalidArgumentError,
  type RunnableTaskRun,
  resetLogging,
  SequentialTaskRunner,
  type TaskRunner,
  type TaskRunnerSession,
  task,
} from "squall";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { sleep } from "../support/async.js";

/** Counts tasks in progress and remembers the most seen at once. */
class InFlight {
  now = 0;
  most = 0;
  enter(): void {
    this.now += 1;
    this.most = Math.max(this.most, this.now);
  }
  leave(): void {
    this.now -= 1;
  }
}

let logLines: string[] = [];

beforeEach(() => {
  logLines = [];
  configureLogging({ write: (line) => logLines.push(line) });
});

afterEach(() => {
  resetLogging();
});

describe("SequentialTaskRunner", () => {
  const events: string[] = [];
  const rnStep = task(async function rnStep(label: string, ms: number) {
    events.push(`start ${label}`);
    await sleep(ms);
    events.push(`end ${label}`);
    return label;
  });
  const rnSyncStep = task(function rnSyncStep(label: string) {
    events.push(`start ${label}`);
    events.push(`end ${label}`);
    return label;
  });

  beforeEach(() => {
    events.length = 0;
  });

  it("is named sequential", () => {
    expect(new SequentialTaskRunner().name).toBe("sequential");
  });

  it("starts runs in submission order and never overlaps them", async () => {
    const result = await flow({ taskRunner: new SequentialTaskRunner() }, function sequentialFlow() {
      // Later runs are shorter: a runner that overlapped them would finish them first.
      return [
        rnStep.submit("a", 30),
        rnSyncStep.submit("b"),
        rnStep.submit("c", 10),
        rnStep.submit("d", 0),
        rnSyncStep.submit("e"),
        rnStep.submit("f", 5),
      ];
    })();
    expect(result).toEqual(["a", "b", "c", "d", "e", "f"]);
    expect(events).toEqual([
      "start a",
      "end a",
      "start b",
      "end b",
      "start c",
      "end c",
      "start d",
      "end d",
      "start e",
      "end e",
      "start f",
      "end f",
    ]);
  });

  it("runs mapped runs one at a time, in input order", async () => {
    const result = await flow({ taskRunner: new SequentialTaskRunner() }, function sequentialMapFlow() {
      return rnStep.map(["m0", "m1", "m2", "m3"], [20, 0, 10, 0]).result();
    })();
    expect(result).toEqual(["m0", "m1", "m2", "m3"]);
    expect(events).toEqual([
      "start m0",
      "end m0",
      "start m1",
      "end m1",
      "start m2",
      "end m2",
      "start m3",
      "end m3",
    ]);
  });

  it("keeps a retrying run's turn until it reaches a final state", async () => {
    let attempts = 0;
    const rnRetrying = task({ retries: 2, retryDelaySeconds: 0.01 }, async function rnRetrying() {
      attempts += 1;
      events.push(`start retrying attempt ${attempts}`);
      await sleep(1);
      events.push(`end retrying attempt ${attempts}`);
      if (attempts < 3) throw new Error(`attempt ${attempts} failed`);
      return "retried";
    });
    const result = await flow({ taskRunner: new SequentialTaskRunner() }, function sequentialRetryFlow() {
      return [rnRetrying.submit(), rnSyncStep.submit("after")];
    })();
    expect(result).toEqual(["retried", "after"]);
    expect(events).toEqual([
      "start retrying attempt 1",
      "end retrying attempt 1",
      "start retrying attempt 2",
      "end retrying attempt 2",
      "start retrying attempt 3",
      "end retrying attempt 3",
      "start after",
      "end after",
    ]);
  });

  it("finishes a run's onCompletion hook before the next run starts (async task)", async () => {
    const rnHookedAsync = task(
      {
        onCompletion: async () => {
          await sleep(10);
          events.push("hook done");
        },
      },
      async function rnHookedAsync() {
        await sleep(1);
        events.push("hooked async ran");
      },
    );
    await flow({ taskRunner: new SequentialTaskRunner() }, function hookOrderAsyncFlow() {
      rnHookedAsync.submit();
      rnSyncStep.submit("next");
    })();
    expect(events).toEqual(["hooked async ran", "hook done", "start next", "end next"]);
  });

  // A synchronous task's execute() must also wait for its hooks, as an async task's does (above);
  // otherwise the runner counts the run finished and starts the next one while the hook still runs.
  it("finishes a run's onCompletion hook before the next run starts (sync task)", async () => {
    const rnHookedSync = task(
      {
        onCompletion: async () => {
          await sleep(10);
          events.push("hook done");
        },
      },
      function rnHookedSync() {
        events.push("hooked sync ran");
      },
    );
    await flow({ taskRunner: new SequentialTaskRunner() }, function hookOrderSyncFlow() {
      rnHookedSync.submit();
      rnSyncStep.submit("next");
    })();
    expect(events).toEqual(["hooked sync ran", "hook done", "start next", "end next"]);
  });
});

describe("ConcurrentTaskRunner", () => {
  it("is named concurrent", () => {
    expect(new ConcurrentTaskRunner().name).toBe("concurrent");
  });

  it("has all ten submitted 200 ms tasks in flight at once", async () => {
    const inFlight = new InFlight();
    const rnWait200 = task(async function rnWait200(i: number) {
      inFlight.enter();
      await sleep(200);
      inFlight.leave();
      return i * i;
    });
    const result = await flow({ taskRunner: new ConcurrentTaskRunner() }, function tenAtOnceFlow() {
      const futures = [];
      for (let i = 0; i < 10; i++) futures.push(rnWait200.submit(i));
      return futures;
    })();
    expect(result).toEqual([0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
    expect(inFlight.most).toBe(10);
    expect(inFlight.now).toBe(0);
  });

  it("caps runs in flight at maxConcurrency, and still completes them all", async () => {
    const inFlight = new InFlight();
    const rnCapped = task(async function rnCapped(i: number) {
      inFlight.enter();
      await sleep(5 + (i % 3) * 5);
      inFlight.leave();
      return i;
    });
    const runner = new ConcurrentTaskRunner({ maxConcurrency: 3 });
    expect(runner.maxConcurrency).toBe(3);
    const result = await flow({ taskRunner: runner }, function cappedFlow() {
      return rnCapped.map([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]).result();
    })();
    expect(result).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(inFlight.most).toBe(3);
  });

  it("starts queued runs in submission order under maxConcurrency", async () => {
    const started: number[] = [];
    const rnOrdered = task(async function rnOrdered(i: number) {
      started.push(i);
      await sleep(i % 2 === 0 ? 10 : 1);
      return i;
    });
    await flow({ taskRunner: new ConcurrentTaskRunner({ maxConcurrency: 2 }) }, function orderedFlow() {
      rnOrdered.map([0, 1, 2, 3, 4, 5]);
    })();
    expect(started).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it("rejects a maxConcurrency that is not an integer >= 1", () => {
    expect(() => new ConcurrentTaskRunner({ maxConcurrency: 0 })).toThrow(InvalidArgumentError);
    expect(() => new ConcurrentTaskRunner({ maxConcurrency: 0 })).toThrow(
      "Expected `maxConcurrency` to be an integer >= 1, got `0`",
    );
    expect(() => new ConcurrentTaskRunner({ maxConcurrency: 1.5 })).toThrow(
      "Expected `maxConcurrency` to be an integer >= 1, got `1.5`",
    );
    expect(() => new ConcurrentTaskRunner({ maxConcurrency: -1 })).toThrow(
      "Expected `maxConcurrency` to be an integer >= 1, got `-1`",
    );
    expect(() => new ConcurrentTaskRunner({ maxConcurrency: Number.NaN })).toThrow(
      "Expected `maxConcurrency` to be an integer >= 1, got `NaN`",
    );
    expect(new ConcurrentTaskRunner({ maxConcurrency: 1 }).maxConcurrency).toBe(1);
    expect(new ConcurrentTaskRunner().maxConcurrency).toBe(Number.POSITIVE_INFINITY);
  });
});

describe("one runner instance for many flow runs", () => {
  const rnTriple = task(async function rnTriple(x: number) {
    await sleep(5);
    return x * 3;
  });

  it("serves two flow runs at the same time, each with its own results", async () => {
    const runner = new ConcurrentTaskRunner({ maxConcurrency: 2 });
    const tripleAll = flow({ taskRunner: runner }, function tripleAllFlow(xs: number[]) {
      return rnTriple.map(xs).result();
    });
    const [first, second] = await Promise.all([tripleAll([1, 2, 3, 4]), tripleAll([10, 20])]);
    expect(first).toEqual([3, 6, 9, 12]);
    expect(second).toEqual([30, 60]);
  });

  it("keeps each flow run sequential on a shared SequentialTaskRunner", async () => {
    const inFlightByFlow = new Map<string, InFlight>();
    const total = new InFlight();
    const rnPerFlow = task(async function rnPerFlow(x: number) {
      const flowRunId = getRunContext().flowRun.id;
      const mine = inFlightByFlow.get(flowRunId) ?? new InFlight();
      inFlightByFlow.set(flowRunId, mine);
      mine.enter();
      total.enter();
      await sleep(5);
      mine.leave();
      total.leave();
      return x + 1;
    });
    const runner = new SequentialTaskRunner();
    const incrementAll = flow({ taskRunner: runner }, function incrementAllFlow(xs: number[]) {
      return rnPerFlow.map(xs).result();
    });
    const [first, second] = await Promise.all([incrementAll([1, 2, 3]), incrementAll([7, 8, 9])]);
    expect(first).toEqual([2, 3, 4]);
    expect(second).toEqual([8, 9, 10]);
    expect([...inFlightByFlow.values()].map((counts) => counts.most)).toEqual([1, 1]);
    // The two flow runs have sessions of their own: neither waits for the other's runs.
    expect(total.most).toBe(2);
  });
});

/** A runner written against the interface alone: records what it gets, then executes runs. */
class RecordingRunner implements TaskRunner {
  readonly name = "recording";
  readonly events: string[] = [];
  readonly flowRuns: FlowRunInfo[] = [];

  start(flowRun: FlowRunInfo): TaskRunnerSession {
    this.flowRuns.push(flowRun);
    this.events.push(`start ${flowRun.flowName}`);
    return {
      submit: (run: RunnableTaskRun) => {
        this.events.push(`submit ${run.name}`);
        const pending = run.execute();
        this.events.push(`execute ${run.name} returned ${pending === undefined ? "undefined" : "a promise"}`);
      },
      shutdown: () => {
        this.events.push(`shutdown ${flowRun.flowName}`);
      },
    };
  }
}

/** A runner that holds runs back and executes them later, last submitted first. */
class ReversingRunner implements TaskRunner {
  readonly name = "reversing";

  start(): TaskRunnerSession {
    const held: RunnableTaskRun[] = [];
    let scheduled = false;
    return {
      submit: (run) => {
        held.push(run);
        if (scheduled) return;
        scheduled = true;
        setTimeout(async () => {
          for (const next of held.reverse()) await next.execute();
        }, 5);
      },
      shutdown: () => {},
    };
  }
}

describe("a custom TaskRunner", () => {
  const order: string[] = [];
  const rnCustom = task(function rnCustom(x: number) {
    order.push(`ran ${x}`);
    return x * 10;
  });
  const rnCustomAsync = task(async function rnCustomAsync(x: number) {
    await sleep(1);
    return x + 0.5;
  });

  beforeEach(() => {
    order.length = 0;
  });

  it("gets the flow's runs through submit() and is shut down after the last run ends", async () => {
    const runner = new RecordingRunner();
    const result = await flow({ taskRunner: runner }, async function recordedFlow() {
      const first = rnCustom.submit(1);
      const second = rnCustomAsync.submit(2);
      return [await first, await second.result()];
    })();
    expect(result).toEqual([10, 2.5]);
    expect(runner.events).toEqual([
      "start recordedFlow",
      "submit rnCustom-0",
      "execute rnCustom-0 returned undefined",
      "submit rnCustomAsync-0",
      "execute rnCustomAsync-0 returned a promise",
      "shutdown recordedFlow",
    ]);
    expect(runner.flowRuns[0]?.flowName).toBe("recordedFlow");
  });

  it("decides when runs execute; the flow waits for them", async () => {
    const futureStates: string[] = [];
    const result = await flow({ taskRunner: new ReversingRunner() }, async function reversedFlow() {
      const futures = rnCustom.map([1, 2, 3]);
      futureStates.push(...futures.map((future) => future.state.name));
      return futures;
    })();
    expect(futureStates).toEqual(["Pending", "Pending", "Pending"]);
    expect(order).toEqual(["ran 3", "ran 2", "ran 1"]);
    expect(result).toEqual([10, 20, 30]);
  });

  it("fails the flow run when its start() throws, and the flow function never runs", async () => {
    let flowFunctionRan = false;
    const broken: TaskRunner = {
      name: "broken",
      start() {
        throw new Error("runner would not start");
      },
    };
    const state = await flow({ taskRunner: broken }, function brokenRunnerFlow() {
      flowFunctionRan = true;
    }).run();
    expect(state.type).toBe("FAILED");
    expect("error" in state && state.error.message).toBe("runner would not start");
    expect(flowFunctionRan).toBe(false);
  });

  it("fails the flow run when its start() rejects", async () => {
    const rejecting: TaskRunner = {
      name: "rejecting",
      start: () => Promise.reject(new Error("async start failed")),
    };
    await expect(
      flow({ taskRunner: rejecting }, function rejectingRunnerFlow() {
        return 1;
      })(),
    ).rejects.toThrow("async start failed");
  });

  it("fails the flow run when its shutdown() throws", async () => {
    const badShutdown: TaskRunner = {
      name: "badShutdown",
      start: () => ({
        submit: (run) => void run.execute(),
        shutdown: () => {
          throw new Error("shutdown failed");
        },
      }),
    };
    const state = await flow({ taskRunner: badShutdown }, function badShutdownFlow() {
      return rnCustom.submit(4);
    }).run();
    expect(state.type).toBe("FAILED");
    expect("error" in state && state.error.message).toBe("shutdown failed");
    expect(order).toEqual(["ran 4"]);
  });
});
