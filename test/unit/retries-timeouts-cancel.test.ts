import {
  CancelledError,
  configureLogging,
  exponentialBackoff,
  type FlowRunInfo,
  type FlowRunState,
  FlowTimeoutError,
  flow,
  getRunContext,
  InvalidArgumentError,
  isFinal,
  observeRuns,
  resetLogging,
  SequentialTaskRunner,
  type State,
  type StateName,
  type TaskFuture,
  type TaskRunInfo,
  TaskTimeoutError,
  task,
} from "squall";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { gate, rejectionOf, sleep, thrownBy } from "../support/async.js";

/** Waits for `signal` to abort (rejecting with its reason), or for `ms`; clears its timer either way. */
function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

const attemptsOf = (future: TaskFuture<unknown>) => (future as TaskFuture<unknown> & TaskRunInfo).attempts;

interface SeenState {
  readonly name: StateName;
  readonly timestamp: number;
  readonly scheduledTime: number | undefined;
  readonly observedAt: number;
}

/** Every state the future passes through, polled on each turn of the event loop until it is final. */
async function recordStates(future: TaskFuture<unknown>): Promise<SeenState[]> {
  const seen: SeenState[] = [];
  for (;;) {
    const state: State<unknown> = future.state;
    const last = seen.at(-1);
    if (!last || last.name !== state.name || last.timestamp !== state.timestamp.getTime()) {
      seen.push({
        name: state.name,
        timestamp: state.timestamp.getTime(),
        scheduledTime: state.type === "SCHEDULED" ? state.scheduledTime.getTime() : undefined,
        observedAt: Date.now(),
      });
    }
    if (isFinal(state)) return seen;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** How long each AwaitingRetry state was scheduled to last, in ms. */
const retryDelays = (seen: SeenState[]) =>
  seen
    .filter((state) => state.name === "AwaitingRetry")
    .map((state) => (state.scheduledTime ?? Number.NaN) - state.timestamp);

// Failed runs log their stack traces; keep the test output to the test results.
beforeEach(() => configureLogging({ write: () => {} }));
afterEach(() => resetLogging());

describe("retries", () => {
  it("a task failing twice then succeeding with retries: 2 completes after 3 attempts", async () => {
    let calls = 0;
    const flakyTwice = task({ retries: 2 }, function flakyTwice() {
      calls += 1;
      if (calls <= 2) throw new Error(`failure ${calls}`);
      return "third time lucky";
    });
    const flakyFlow = flow(async function flakyFlow() {
      const future = flakyTwice.submit();
      const value = await future.result();
      return { value, attempts: attemptsOf(future), state: future.state.name };
    });

    expect(await flakyFlow()).toEqual({ value: "third time lucky", attempts: 3, state: "Completed" });
    expect(calls).toBe(3);
  });

  it("with retries: 1 a task that keeps failing fails with its own error after 2 attempts", async () => {
    class FlakyError extends Error {}
    const thrown: FlakyError[] = [];
    const alwaysFlaky = task({ retries: 1 }, function alwaysFlaky(): string {
      const error = new FlakyError(`failure ${thrown.length + 1}`);
      thrown.push(error);
      throw error;
    });
    const failingFlow = flow(async function failingFlow() {
      const future = alwaysFlaky.submit();
      const error = await rejectionOf(future.result());
      return { error, attempts: attemptsOf(future), state: future.state.name };
    });

    const { error, attempts, state } = await failingFlow();
    expect(thrown).toHaveLength(2);
    expect(error).toBe(thrown[1]);
    expect(error).toBeInstanceOf(FlakyError);
    expect(error).toMatchObject({ message: "failure 2", taskRunName: "alwaysFlaky-0" });
    expect(attempts).toBe(2);
    expect(state).toBe("Failed");
  });

  it("a retry with no delay goes from Running straight to Retrying, as in Prefect", async () => {
    let calls = 0;
    const quickRetry = task({ retries: 2 }, function quickRetry() {
      calls += 1;
      if (calls <= 2) throw new Error(`failure ${calls}`);
      return calls;
    });
    const quickRetryFlow = flow(function quickRetryFlow() {
      return quickRetry.submit().result();
    });
    const states: [StateName, number | undefined][] = [];
    const stop = observeRuns((event) => {
      if (event.kind === "task") states.push([event.state as StateName, event.attempts]);
    });
    try {
      expect(await quickRetryFlow()).toBe(3);
    } finally {
      stop();
    }
    expect(states).toEqual([
      ["Running", 1],
      ["Retrying", 2],
      ["Retrying", 3],
      ["Completed", 3],
    ]);
  });

  it("retryDelaySeconds as a number: the run waits in AwaitingRetry with a scheduledTime that far ahead", async () => {
    let calls = 0;
    const fixedDelay = task({ retries: 2, retryDelaySeconds: 0.05 }, async function fixedDelay() {
      calls += 1;
      await sleep(5);
      if (calls <= 2) throw new Error(`failure ${calls}`);
      return calls;
    });
    const fixedDelayFlow = flow(function fixedDelayFlow() {
      return recordStates(fixedDelay.submit());
    });

    const seen = await fixedDelayFlow();
    expect(seen.map((state) => state.name)).toEqual([
      "Pending",
      "Running",
      "AwaitingRetry",
      "Retrying",
      "AwaitingRetry",
      "Retrying",
      "Completed",
    ]);
    expect(retryDelays(seen)).toEqual([50, 50]);
    for (const state of seen.filter((s) => s.name === "AwaitingRetry")) {
      expect(state.scheduledTime).toBeGreaterThan(state.observedAt);
    }
  });

  it("retryDelaySeconds as a list: one delay per retry, the last one repeating", async () => {
    let calls = 0;
    const listedDelays = task({ retries: 3, retryDelaySeconds: [0.01, 0.03] }, function listedDelays() {
      calls += 1;
      if (calls <= 3) throw new Error(`failure ${calls}`);
      return calls;
    });
    const listFlow = flow(function listFlow() {
      return recordStates(listedDelays.submit());
    });

    const seen = await listFlow();
    expect(retryDelays(seen)).toEqual([10, 30, 30]);
    expect(seen.at(-1)?.name).toBe("Completed");
    for (const state of seen.filter((s) => s.name === "AwaitingRetry")) {
      expect(state.scheduledTime).toBeGreaterThan(state.observedAt);
    }
  });

  it("retryDelaySeconds as a function gets the retry number and gives its delay", async () => {
    const asked: number[] = [];
    let calls = 0;
    const computedDelay = task(
      {
        retries: 2,
        retryDelaySeconds: (retry) => {
          asked.push(retry);
          return retry * 0.02;
        },
      },
      function computedDelay() {
        calls += 1;
        if (calls <= 2) throw new Error(`failure ${calls}`);
        return calls;
      },
    );
    const functionFlow = flow(function functionFlow() {
      return recordStates(computedDelay.submit());
    });

    const seen = await functionFlow();
    expect(asked).toEqual([1, 2]);
    expect(retryDelays(seen)).toEqual([20, 40]);
    expect(seen.at(-1)?.name).toBe("Completed");
  });

  it("exponentialBackoff(factor) doubles the delay with each retry", async () => {
    const backoff = exponentialBackoff(2);
    expect([backoff(1), backoff(2), backoff(3)]).toEqual([2, 4, 8]);

    let calls = 0;
    const backsOff = task({ retries: 3, retryDelaySeconds: exponentialBackoff(0.01) }, function backsOff() {
      calls += 1;
      if (calls <= 3) throw new Error(`failure ${calls}`);
      return calls;
    });
    const backoffFlow = flow(function backoffFlow() {
      return recordStates(backsOff.submit());
    });

    expect(retryDelays(await backoffFlow())).toEqual([10, 20, 40]);
  });

  it("rejects a delay list with a negative value at definition", () => {
    const error = thrownBy(() =>
      task({ retries: 2, retryDelaySeconds: [0.01, -1] }, function negativeDelay() {
        return 1;
      }),
    );
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.message).toBe("Expected `retryDelaySeconds[1]` to be a number >= 0, got `-1`");
  });

  it("rejects a retryDelaySeconds that is not a number, an array of numbers or a function, at definition", () => {
    const defineWith = (retryDelaySeconds: unknown) =>
      thrownBy(() =>
        task({ retries: 1, retryDelaySeconds: retryDelaySeconds as never }, function oddDelay() {
          return 1;
        }),
      );
    const forms =
      "a number of seconds >= 0, an array of them (one per retry, the last repeating), or a function of the retry number such as `exponentialBackoff(1)`";
    const cases: [unknown, string][] = [
      [{ seconds: 5 }, `Expected \`retryDelaySeconds\` to be ${forms}, got \`Object\``],
      ["5", `Expected \`retryDelaySeconds\` to be ${forms}, got \`5\``],
      [true, `Expected \`retryDelaySeconds\` to be ${forms}, got \`true\``],
      [-1, "Expected `retryDelaySeconds` to be a number >= 0, got `-1`"],
      [Number.NaN, "Expected `retryDelaySeconds` to be a number >= 0, got `NaN`"],
      [["1"], "Expected `retryDelaySeconds[0]` to be a number >= 0, got `1`"],
      [
        30 * 24 * 3600,
        "Expected `retryDelaySeconds` to be at most 2147483 seconds (about 24.8 days, the longest timer Node keeps), got `2592000`",
      ],
    ];
    for (const [delay, message] of cases) {
      const error = defineWith(delay);
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error.message).toBe(message);
    }
    const valid = task(function validDelay() {
      return 1;
    });
    const viaOptions = thrownBy(() => valid.withOptions({ retryDelaySeconds: {} as never }));
    expect(viaOptions.message).toBe(`Expected \`retryDelaySeconds\` to be ${forms}, got \`Object\``);
  });

  it("a retryDelaySeconds function giving a bad delay fails the run, saying which retry", async () => {
    let calls = 0;
    const badFunctionDelay = task(
      { retries: 2, retryDelaySeconds: (retry) => (retry === 1 ? 0 : Number.POSITIVE_INFINITY) },
      function badFunctionDelay(): number {
        calls += 1;
        throw new Error(`failure ${calls}`);
      },
    );
    const badDelayFlow = flow(async function badDelayFlow() {
      return rejectionOf(badFunctionDelay.submit().result());
    });

    const error = await badDelayFlow();
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.message).toBe(
      "Expected `retryDelaySeconds` to give a number of seconds from 0 to 2147483 for retry 2, got `Infinity`",
    );
    expect(calls).toBe(2);
  });

  it("rejects negative and non-integer retries, also through withOptions()", () => {
    const negative = thrownBy(() =>
      task({ retries: -1 }, function negativeRetries() {
        return 1;
      }),
    );
    expect(negative).toBeInstanceOf(InvalidArgumentError);
    expect(negative.message).toBe("Expected `retries` to be an integer >= 0, got `-1`");

    const fractional = thrownBy(() =>
      task({ retries: 1.5 }, function fractionalRetries() {
        return 1;
      }),
    );
    expect(fractional).toBeInstanceOf(InvalidArgumentError);
    expect(fractional.message).toBe("Expected `retries` to be an integer >= 0, got `1.5`");

    const valid = task(function validRetries() {
      return 1;
    });
    const viaOptions = thrownBy(() => valid.withOptions({ retries: -2 }));
    expect(viaOptions).toBeInstanceOf(InvalidArgumentError);
    expect(viaOptions.message).toBe("Expected `retries` to be an integer >= 0, got `-2`");
  });

  it("stops retrying when retryCondition returns false", async () => {
    const judged: Error[] = [];
    const fatal = new Error("fatal");
    const notRetried = task(
      {
        retries: 3,
        retryCondition: (error) => {
          judged.push(error);
          return false;
        },
      },
      function notRetried(): string {
        throw fatal;
      },
    );
    const conditionFlow = flow(async function conditionFlow() {
      const future = notRetried.submit();
      const error = await rejectionOf(future.result());
      return { error, attempts: attemptsOf(future), state: future.state.name };
    });

    const { error, attempts, state } = await conditionFlow();
    expect(error).toBe(fatal);
    expect(attempts).toBe(1);
    expect(state).toBe("Failed");
    expect(judged).toEqual([fatal]);
    expect(judged[0]).toBe(fatal);
  });

  it("awaits an async retryCondition: retries what it accepts, stops at what it refuses", async () => {
    const judged: string[] = [];
    let calls = 0;
    const transientOnly = task(
      {
        retries: 3,
        retryCondition: async (error) => {
          await sleep(5);
          judged.push(error.message);
          return error.message === "transient";
        },
      },
      function transientOnly(): string {
        calls += 1;
        throw new Error(calls === 1 ? "transient" : "permanent");
      },
    );
    const asyncConditionFlow = flow(async function asyncConditionFlow() {
      const future = transientOnly.submit();
      const error = await rejectionOf(future.result());
      return { message: error.message, attempts: attemptsOf(future), state: future.state.name };
    });

    expect(await asyncConditionFlow()).toEqual({ message: "permanent", attempts: 2, state: "Failed" });
    expect(judged).toEqual(["transient", "permanent"]);
  });

  // While an async retryCondition decides, the run stays Running (as in Prefect); it becomes
  // AwaitingRetry only once a retry is scheduled, with that retry's time.
  it("stays Running while an async retryCondition decides", async () => {
    const deciding = gate();
    const decided = gate();
    let calls = 0;
    const slowJudge = task(
      {
        retries: 1,
        retryCondition: async () => {
          deciding.open();
          await decided.promise;
          return true;
        },
      },
      function slowJudge() {
        calls += 1;
        if (calls === 1) throw new Error("first attempt fails");
        return calls;
      },
    );
    const judgeFlow = flow(async function judgeFlow() {
      const future = slowJudge.submit();
      await deciding.promise;
      const whileDeciding = future.state;
      decided.open();
      await future.result();
      return whileDeciding;
    });

    const state = await judgeFlow();
    expect(state.name).toBe("Running");
  });

  it("names the state Retrying during every attempt after the first", async () => {
    const inside: [number, StateName][] = [];
    const countsAttempts = task({ retries: 2 }, function countsAttempts() {
      const run = getRunContext().taskRun as TaskRunInfo;
      inside.push([run.attempts, run.state.name]);
      if (run.attempts < 3) throw new Error(`attempt ${run.attempts} failed`);
      return "ok";
    });
    const retryingFlow = flow(function retryingFlow() {
      return countsAttempts.submit().result();
    });

    expect(await retryingFlow()).toBe("ok");
    expect(inside).toEqual([
      [1, "Running"],
      [2, "Retrying"],
      [3, "Retrying"],
    ]);
  });
});

describe("timeouts", () => {
  it("aborts the signal of a task that honours it, and the run ends TimedOut with TaskTimeoutError", async () => {
    const reasons: unknown[] = [];
    const waitsPolitely = task({ timeoutSeconds: 0.03 }, async function waitsPolitely() {
      const { signal } = getRunContext();
      try {
        await sleepUnlessAborted(5_000, signal);
      } catch (error) {
        reasons.push(error);
        throw error;
      }
      return "finished";
    });
    const politeFlow = flow(async function politeFlow() {
      const future = waitsPolitely.submit();
      const state = await future.wait();
      const error = await rejectionOf(future.result());
      return { state, error };
    });

    const { state, error } = await politeFlow();
    expect(state.type).toBe("FAILED");
    expect(state.name).toBe("TimedOut");
    expect(error).toBeInstanceOf(TaskTimeoutError);
    expect(error.message).toBe("Task run 'waitsPolitely-0' exceeded its timeout of 0.03 seconds.");
    expect(state.type === "FAILED" && state.error).toBe(error);
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toBeInstanceOf(TaskTimeoutError);
  });

  it("ends a task that ignores its signal TimedOut at the deadline, while its own work is still pending", async () => {
    let timerFired = false;
    let handle: NodeJS.Timeout | undefined;
    const ignoresSignal = task({ timeoutSeconds: 0.03 }, async function ignoresSignal() {
      await new Promise<void>((resolve) => {
        handle = setTimeout(() => {
          timerFired = true;
          resolve();
        }, 2_000);
      });
      return "late";
    });
    const stubbornFlow = flow(async function stubbornFlow() {
      const future = ignoresSignal.submit();
      const state = await future.wait();
      const timerFiredAtEnd = timerFired;
      const error = await future.result({ raiseOnFailure: false });
      return { type: state.type, name: state.name, timerFiredAtEnd, error: (error as Error).name };
    });

    try {
      const outcome = await stubbornFlow.run();
      expect(outcome.type).toBe("COMPLETED");
      expect(outcome.type === "COMPLETED" && outcome.result).toEqual({
        type: "FAILED",
        name: "TimedOut",
        timerFiredAtEnd: false,
        error: "TaskTimeoutError",
      });
      expect(timerFired).toBe(false);
    } finally {
      clearTimeout(handle);
    }
  });

  it("on a SequentialTaskRunner starts the next run once a run times out, not when its ignored work ends", async () => {
    let timerFired = false;
    let handle: NodeJS.Timeout | undefined;
    const hogsRunner = task({ timeoutSeconds: 0.03 }, async function hogsRunner() {
      await new Promise<void>((resolve) => {
        handle = setTimeout(() => {
          timerFired = true;
          resolve();
        }, 2_000);
      });
    });
    const nextInLine = task(function nextInLine() {
      return timerFired ? "after the ignored work" : "before the ignored work";
    });
    const queueFlow = flow({ taskRunner: new SequentialTaskRunner() }, async function queueFlow() {
      const first = hogsRunner.submit();
      const second = nextInLine.submit();
      const value = await second.result();
      await first.result({ raiseOnFailure: false });
      return { first: first.state.name, value };
    });

    try {
      expect(await queueFlow()).toEqual({ first: "TimedOut", value: "before the ignored work" });
    } finally {
      clearTimeout(handle);
    }
  });

  it("aborts the signal a task first reads after its deadline", async () => {
    const checked = gate();
    let abortedWhenChecked: boolean | undefined;
    const checksLate = task({ timeoutSeconds: 0.02 }, async function checksLate() {
      await sleep(60);
      abortedWhenChecked = getRunContext().signal.aborted;
      checked.open();
    });
    const lateFlow = flow(async function lateFlow() {
      const future = checksLate.submit();
      await future.result({ raiseOnFailure: false });
      return future.state.name;
    });

    expect(await lateFlow()).toBe("TimedOut");
    await checked.promise;
    expect(abortedWhenChecked).toBe(true);
  });

  it("retries a timed-out task, giving the new attempt a fresh signal", async () => {
    let handle: NodeJS.Timeout | undefined;
    const abortedAtStart: boolean[] = [];
    const slowThenFast = task({ timeoutSeconds: 0.03, retries: 1 }, async function slowThenFast() {
      const { signal, taskRun } = getRunContext();
      abortedAtStart.push(signal.aborted);
      if (taskRun?.attempts === 1) {
        await new Promise<void>((resolve) => {
          handle = setTimeout(resolve, 2_000); // ignores its signal
        });
      }
      return `attempt ${taskRun?.attempts}`;
    });
    const retryTimeoutFlow = flow(async function retryTimeoutFlow() {
      const future = slowThenFast.submit();
      const value = await future.result();
      return { value, attempts: attemptsOf(future), state: future.state.name };
    });

    try {
      expect(await retryTimeoutFlow()).toEqual({ value: "attempt 2", attempts: 2, state: "Completed" });
      expect(abortedAtStart).toEqual([false, false]);
    } finally {
      clearTimeout(handle);
    }
  });

  it("ends TimedOut after the last retry also times out", async () => {
    const alwaysSlow = task({ timeoutSeconds: 0.02, retries: 1 }, async function alwaysSlow() {
      await sleepUnlessAborted(5_000, getRunContext().signal);
    });
    const allTimeoutFlow = flow(async function allTimeoutFlow() {
      const future = alwaysSlow.submit();
      const error = await rejectionOf(future.result());
      return { error, attempts: attemptsOf(future), state: future.state.name };
    });

    const { error, attempts, state } = await allTimeoutFlow();
    expect(error).toBeInstanceOf(TaskTimeoutError);
    expect(error.message).toBe("Task run 'alwaysSlow-0' exceeded its timeout of 0.02 seconds.");
    expect(attempts).toBe(2);
    expect(state).toBe("TimedOut");
  });

  it("rejects timeoutSeconds <= 0 with InvalidArgumentError, for tasks and flows", () => {
    const zero = thrownBy(() =>
      task({ timeoutSeconds: 0 }, function zeroTimeout() {
        return 1;
      }),
    );
    expect(zero).toBeInstanceOf(InvalidArgumentError);
    expect(zero.message).toBe("Expected `timeoutSeconds` to be a number > 0, got `0`");

    const negative = thrownBy(() =>
      task({ timeoutSeconds: -1 }, function negativeTimeout() {
        return 1;
      }),
    );
    expect(negative).toBeInstanceOf(InvalidArgumentError);
    expect(negative.message).toBe("Expected `timeoutSeconds` to be a number > 0, got `-1`");

    const flowZero = thrownBy(() =>
      flow({ timeoutSeconds: 0 }, function zeroTimeoutFlow() {
        return 1;
      }),
    );
    expect(flowZero).toBeInstanceOf(InvalidArgumentError);
    expect(flowZero.message).toBe("Expected `timeoutSeconds` to be a number > 0, got `0`");
  });

  it("rejects a timeoutSeconds longer than Node's longest timer, which would fire at once", () => {
    const month = 30 * 24 * 3600;
    const message =
      "Expected `timeoutSeconds` to be at most 2147483 seconds (about 24.8 days, the longest timer Node keeps), got `2592000`";
    const taskError = thrownBy(() =>
      task({ timeoutSeconds: month }, function monthLongTask() {
        return 1;
      }),
    );
    expect(taskError).toBeInstanceOf(InvalidArgumentError);
    expect(taskError.message).toBe(message);
    const flowError = thrownBy(() =>
      flow({ timeoutSeconds: month }, function monthLongFlow() {
        return 1;
      }),
    );
    expect(flowError).toBeInstanceOf(InvalidArgumentError);
    expect(flowError.message).toBe(message);
  });
});

describe("cancellation", () => {
  it("aborting a flow's signal aborts the running run, never starts queued ones, and cancels them all", async () => {
    const controller = new AbortController();
    const firstStarted = gate();
    const started: string[] = [];
    const signals: AbortSignal[] = [];
    const slowStep = task(async function slowStep(label: string) {
      started.push(label);
      const { signal } = getRunContext();
      signals.push(signal);
      firstStarted.open();
      await sleepUnlessAborted(5_000, signal);
      return label;
    });
    let futures: TaskFuture<string>[] = [];
    let flowRun: FlowRunInfo | undefined;
    const steps = flow(
      { taskRunner: new SequentialTaskRunner(), flowRunName: "cancel-me" },
      async function steps() {
        flowRun = getRunContext().flowRun;
        futures = ["a", "b", "c"].map((label) => slowStep.submit(label));
        return Promise.all(futures.map((future) => future.result()));
      },
    );

    const running = steps.withOptions({ signal: controller.signal })();
    await firstStarted.promise;
    controller.abort(new Error("user pressed stop"));
    const error = await rejectionOf(running);

    expect(error).toBeInstanceOf(CancelledError);
    expect(error.message).toBe("Flow run 'cancel-me' was cancelled: user pressed stop");
    expect(flowRun?.state.type).toBe("CANCELLED");
    expect(flowRun?.state.name).toBe("Cancelled");
    expect(started).toEqual(["a"]);
    expect(signals).toHaveLength(1);
    expect(signals[0]?.aborted).toBe(true);
    expect(futures.map((future) => [future.taskRunName, future.state.type, future.state.name])).toEqual([
      ["slowStep-0", "CANCELLED", "Cancelled"],
      ["slowStep-1", "CANCELLED", "Cancelled"],
      ["slowStep-2", "CANCELLED", "Cancelled"],
    ]);
    futures.forEach((future, i) => {
      const state = future.state;
      const taskError = "error" in state ? state.error : undefined;
      expect(taskError).toBeInstanceOf(CancelledError);
      expect(taskError?.message).toBe(`Task run 'slowStep-${i}' was cancelled: user pressed stop`);
    });
  });

  it("cancels a run waiting to retry without another attempt", async () => {
    const controller = new AbortController();
    let calls = 0;
    const failedOnce = gate();
    const waitsToRetry = task({ retries: 3, retryDelaySeconds: 5 }, function waitsToRetry() {
      calls += 1;
      failedOnce.open();
      throw new Error("try again later");
    });
    let future: TaskFuture<never> | undefined;
    const retryCancelFlow = flow({ signal: controller.signal }, function retryCancelFlow() {
      future = waitsToRetry.submit();
    });

    const finished = retryCancelFlow.run();
    await failedOnce.promise;
    await new Promise((resolve) => setImmediate(resolve));
    expect(future?.state.name).toBe("AwaitingRetry");
    controller.abort(new Error("no more"));
    const state = await finished;

    expect(state.name).toBe("Cancelled");
    expect(future?.state.name).toBe("Cancelled");
    expect(calls).toBe(1);
  });

  it("an already-aborted signal cancels the flow before any task runs", async () => {
    const calls: string[] = [];
    const neverRuns = task(function neverRuns() {
      calls.push("task");
    });
    const tooLate = flow({ flowRunName: "never-started" }, function tooLate() {
      neverRuns.submit();
      return neverRuns();
    });

    const state = await tooLate
      .withOptions({ signal: AbortSignal.abort(new Error("stopped before start")) })
      .run();
    expect(state.type).toBe("CANCELLED");
    expect(state.name).toBe("Cancelled");
    expect("error" in state && state.error).toBeInstanceOf(CancelledError);
    expect("error" in state && state.error.message).toBe(
      "Flow run 'never-started' was cancelled: stopped before start",
    );
    expect(calls).toEqual([]);
  });

  it("an already-aborted signal does not call the flow function", async () => {
    const entered: string[] = [];
    const bodyOnly = flow(function bodyOnly() {
      entered.push("flow body");
    });

    const state = await bodyOnly.withOptions({ signal: AbortSignal.abort(new Error("stop")) }).run();
    expect(state.name).toBe("Cancelled");
    expect(entered).toEqual([]);
  });

  it("a flow's timeoutSeconds ends it TimedOut with FlowTimeoutError and cancels its in-flight tasks", async () => {
    const reasons: unknown[] = [];
    const hangs = task(async function hangs() {
      const { signal } = getRunContext();
      try {
        await sleepUnlessAborted(5_000, signal);
      } catch (error) {
        reasons.push(error);
        throw error;
      }
    });
    let future: TaskFuture<void> | undefined;
    const tooSlow = flow({ timeoutSeconds: 0.05, flowRunName: "too-slow" }, function tooSlow() {
      future = hangs.submit();
      return future.result();
    });

    const state = await tooSlow.run();
    expect(state.type).toBe("FAILED");
    expect(state.name).toBe("TimedOut");
    expect("error" in state && state.error).toBeInstanceOf(FlowTimeoutError);
    expect("error" in state && state.error.message).toBe(
      "Flow run 'too-slow' exceeded its timeout of 0.05 seconds.",
    );
    const taskState = future?.state;
    expect(taskState?.name).toBe("Cancelled");
    const taskError = taskState && "error" in taskState ? taskState.error : undefined;
    expect(taskError).toBeInstanceOf(CancelledError);
    expect(taskError?.message).toBe(
      "Task run 'hangs-0' was cancelled: Flow run 'too-slow' exceeded its timeout of 0.05 seconds.",
    );
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toBeInstanceOf(FlowTimeoutError);

    const awaited = await rejectionOf(tooSlow());
    expect(awaited).toBeInstanceOf(FlowTimeoutError);
  });

  it("a cancelled parent flow cancels its running subflow and the subflow's tasks", async () => {
    const controller = new AbortController();
    const childStarted = gate();
    const childSignals: AbortSignal[] = [];
    const childWork = task(async function childWork() {
      const { signal } = getRunContext();
      childSignals.push(signal);
      childStarted.open();
      await sleepUnlessAborted(5_000, signal);
      return "child done";
    });
    let childFuture: TaskFuture<string> | undefined;
    let childState: Promise<FlowRunState<string>> | undefined;
    let parentId: string | undefined;
    const childFlow = flow({ flowRunName: "child-run" }, function childFlow() {
      childFuture = childWork.submit();
      return childFuture.result();
    });
    const parentFlow = flow({ flowRunName: "parent-run" }, async function parentFlow() {
      parentId = getRunContext().flowRun.id;
      childState = childFlow.run();
      return (await childState).name;
    });

    const parentState = parentFlow.withOptions({ signal: controller.signal }).run();
    await childStarted.promise;
    controller.abort(new Error("stop everything"));

    const parent = await parentState;
    expect(parent.name).toBe("Cancelled");
    const child = await (childState as Promise<FlowRunState<string>>);
    expect(child.type).toBe("CANCELLED");
    expect(child.flowRun.parentFlowRunId).toBe(parentId);
    expect("error" in child && child.error).toBeInstanceOf(CancelledError);
    expect("error" in child && child.error.message).toBe(
      "Flow run 'child-run' was cancelled: stop everything",
    );
    expect(childFuture?.state.name).toBe("Cancelled");
    expect(childSignals.map((signal) => signal.aborted)).toEqual([true]);
  });
});
