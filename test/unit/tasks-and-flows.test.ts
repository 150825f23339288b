import {
  ConcurrentTaskRunner,
  configureLogging,
  DuplicateTaskNameError,
  type FinalState,
  type FlowRunInfo,
  flow,
  getRunContext,
  InvalidArgumentError,
  MissingContextError,
  type RunnableTaskRun,
  resetLogging,
  SquallError,
  type State,
  type TaskFuture,
  type TaskRunError,
  type TaskRunInfo,
  type TaskRunner,
  TaskRunsFailedError,
  task,
} from "squall";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { sleep } from "../support/async.js";

/** The run record a future carries at runtime. */
const infoOf = (future: TaskFuture<unknown>) => future as unknown as TaskRunInfo;

/** What a rejected promise rejected with (or a marker when it resolved). */
async function rejectionOf(promise: PromiseLike<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  return "resolved";
}

/** A task's own error class, to check that results rethrow it as it was thrown. */
class ParseError extends Error {
  readonly line: number;
  constructor(message: string, line: number) {
    super(message);
    this.name = "ParseError";
    this.line = line;
  }
}

/** A runner that records what it is given and executes each run at once. */
class RecordingRunner implements TaskRunner {
  readonly name = "recording";
  readonly flowRuns: FlowRunInfo[] = [];
  readonly submitted: string[] = [];

  start(flowRun: FlowRunInfo) {
    this.flowRuns.push(flowRun);
    return {
      submit: (run: RunnableTaskRun) => {
        this.submitted.push(run.name);
        run.execute();
      },
      shutdown: () => {},
    };
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

describe("task()", () => {
  it("takes its name from the function, or from options.name", async () => {
    const tfNamedByFunction = task(function tfNamedByFunction() {
      return getRunContext().taskRun?.name;
    });
    const tfRenamed = task({ name: "tfRenamedTask" }, function tfOriginalName() {
      return getRunContext().taskRun?.name;
    });

    expect(tfNamedByFunction.name).toBe("tfNamedByFunction");
    expect(tfRenamed.name).toBe("tfRenamedTask");
    const runNames = await flow(async function tfNamesFlow() {
      return [await tfNamedByFunction(), await tfRenamed()];
    })();
    expect(runNames).toEqual(["tfNamedByFunction-0", "tfRenamedTask-0"]);
  });

  it("exposes the plain function as .fn", () => {
    function tfPlain(x: number) {
      return x + 1;
    }
    const t = task(tfPlain);
    expect(t.fn).toBe(tfPlain);
    expect(t.fn(1)).toBe(2);
  });

  it("rejects an anonymous function and says to name it", () => {
    expect(() => task(() => 1)).toThrow(InvalidArgumentError);
    expect(() => task(() => 1)).toThrow(
      'A task needs a name: pass a named function (task(function myName() {...})) or `{ name: "myName" }`, got ``',
    );
    expect(() => flow(() => 1)).toThrow(
      'A flow needs a name: pass a named function (flow(function myName() {...})) or `{ name: "myName" }`, got ``',
    );
  });

  it("accepts an anonymous function given a name in options", async () => {
    const t = task({ name: "tfAnonymousButNamed" }, () => 7);
    expect(t.name).toBe("tfAnonymousButNamed");
    expect(await flow({ name: "anonymousFlow" }, () => t())()).toBe(7);
  });

  it("rejects something that is not a function", () => {
    expect(() => task(42 as never)).toThrow(InvalidArgumentError);
    expect(() => flow("nope" as never)).toThrow(InvalidArgumentError);
    expect(() => task({ retries: 1 }, undefined as never)).toThrow(
      "Expected task() to get a function after its options, got `undefined`",
    );
    expect(() => flow({}, null as never)).toThrow(
      "Expected flow() to get a function after its options, got `null`",
    );
  });

  it("rejects a description that is not a string, for tasks and flows", () => {
    const numberDescribed = () =>
      task({ description: 42 as never }, function numberDescribed() {
        return 1;
      });
    expect(numberDescribed).toThrow(InvalidArgumentError);
    expect(numberDescribed).toThrow("Expected `description` to be a string, got `42`");
    const arrayDescribed = () =>
      flow({ description: ["a"] as never }, function arrayDescribed() {
        return 1;
      });
    expect(arrayDescribed).toThrow(InvalidArgumentError);
    expect(arrayDescribed).toThrow("Expected `description` to be a string, got `[a]`");
  });

  it("names the non-function it got when that is the only argument", () => {
    expect(() => task(42 as never)).toThrow("Expected task() to get a function, got `42`");
    expect(() => flow("nope" as never)).toThrow("Expected flow() to get a function, got `nope`");
  });

  it("rejects a second, different task with a name already taken", () => {
    task({ name: "tfTakenName" }, function first() {
      return 1;
    });
    const second = () =>
      task({ name: "tfTakenName" }, function second() {
        return 2;
      });
    expect(second).toThrow(DuplicateTaskNameError);
    expect(second).toThrow("A different task named 'tfTakenName' is already defined (in file:///");
  });

  it("lets the same function be wrapped twice under one name", async () => {
    function tfWrappedTwice(x: number) {
      return x * 3;
    }
    const a = task(tfWrappedTwice);
    const b = task({ retries: 1 }, tfWrappedTwice);
    expect(a.name).toBe("tfWrappedTwice");
    expect(b.name).toBe("tfWrappedTwice");
    expect(
      await flow(async function wrappedTwiceFlow() {
        return [await a(1), await b(2)];
      })(),
    ).toEqual([3, 6]);
  });
});

describe("calling a task directly", () => {
  const tfWhoAmI = task(function tfWhoAmI() {
    return getRunContext().taskRun?.name;
  });
  const tfDouble = task(function tfDouble(x: number) {
    return 2 * x;
  });

  it("outside a flow is a plain call that returns a promise", async () => {
    const promise = tfDouble(21);
    expect(promise).toBeInstanceOf(Promise);
    expect(await promise).toBe(42);
    // No run context: the function ran as itself, not as a task run.
    await expect(tfWhoAmI()).rejects.toThrow(MissingContextError);
  });

  it("outside a flow, a throwing function gives a rejected promise", async () => {
    const tfThrowsPlain = task(function tfThrowsPlain() {
      throw new ParseError("bad input", 3);
    });
    const error = await rejectionOf(tfThrowsPlain());
    expect(error).toBeInstanceOf(ParseError);
    expect((error as ParseError).message).toBe("bad input");
  });

  it("inside a flow runs as a task run named after the task, and gives its result", async () => {
    const runner = new RecordingRunner();
    const result = await flow({ taskRunner: runner }, async function directCallsFlow() {
      return { names: [await tfWhoAmI(), await tfWhoAmI()], doubled: await tfDouble(4) };
    })();
    expect(result).toEqual({ names: ["tfWhoAmI-0", "tfWhoAmI-1"], doubled: 8 });
    // It ran right there in the flow, not through the task runner.
    expect(runner.submitted).toEqual([]);
  });

  it("inside a task is a plain call, not another task run", async () => {
    const tfOuter = task(async function tfOuter() {
      return { outer: getRunContext().taskRun?.name, inner: await tfWhoAmI() };
    });
    const result = await flow(function innerCallFlow() {
      return tfOuter();
    })();
    expect(result).toEqual({ outer: "tfOuter-0", inner: "tfOuter-0" });
  });
});

describe(".submit()", () => {
  const tfSubmitted = task(function tfSubmitted(x: number) {
    return x + 1;
  });

  it("outside a flow throws MissingContextError saying what to do", () => {
    expect(() => tfSubmitted.submit(1)).toThrow(MissingContextError);
    expect(() => tfSubmitted.submit(1)).toThrow(
      "tfSubmitted.submit() was called outside a flow. Call it inside a flow function, or call tfSubmitted(...) to run the function now.",
    );
  });

  it("inside a task throws MissingContextError naming the task run", async () => {
    const tfSubmitsInside = task(function tfSubmitsInside() {
      return tfSubmitted.submit(1);
    });
    const error = await flow(function submitInsideTaskFlow() {
      return tfSubmitsInside.submit().result({ raiseOnFailure: false });
    })();
    expect(error).toBeInstanceOf(MissingContextError);
    expect((error as Error).message).toBe(
      "tfSubmitted.submit() was called inside task run 'tfSubmitsInside-0'. Submit tasks from the flow function, or call tfSubmitted(...) to run it inside this task.",
    );
  });

  it("inside a flow returns a future at once, then the result", async () => {
    const result = await flow(async function submitFlow() {
      const future = tfSubmitted.submit(41);
      expect(future.taskRunName).toBe("tfSubmitted-0");
      expect(typeof future.taskRunId).toBe("string");
      expect(future.state.name).toBe("Pending");
      return future.result();
    })();
    expect(result).toBe(42);
  });
});

describe("flow return values", () => {
  const tfAdd = task(function tfAdd(a: number, b: number) {
    return a + b;
  });

  it("gives a plain return value", async () => {
    expect(
      await flow(async function plainReturn(x: number) {
        await sleep(1);
        return { x, label: "plain" };
      })(5),
    ).toEqual({ x: 5, label: "plain" });
  });

  it("resolves futures in the return value, also nested in arrays and objects", async () => {
    const single = await flow(function returnsFuture() {
      return tfAdd.submit(1, 2);
    })();
    expect(single).toBe(3);

    const nested = await flow(function returnsNestedFutures() {
      return { sum: tfAdd.submit(2, 3), list: [tfAdd.submit(10, 10), 7], text: "kept" };
    })();
    expect(nested).toEqual({ sum: 5, list: [20, 7], text: "kept" });
  });

  it("fails with the task's own error when a returned future failed", async () => {
    const thrown = new ParseError("returned run failed", 9);
    const tfFailsReturned = task(function tfFailsReturned() {
      throw thrown;
    });
    const state = await flow(function returnsFailedFuture() {
      return tfFailsReturned.submit();
    }).run();
    expect(state.type).toBe("FAILED");
    expect("error" in state && state.error).toBe(thrown);
  });
});

describe("await myFlow() and myFlow.run()", () => {
  it("await rethrows the flow function's own error", async () => {
    const thrown = new ParseError("flow broke", 1);
    const broken = flow(async function brokenFlow() {
      await sleep(1);
      throw thrown;
    });
    expect(await rejectionOf(broken())).toBe(thrown);
  });

  it("run() resolves to the final state with the flow run's info", async () => {
    let stateInside = "";
    const state = await flow({ flowRunName: "run-info-run" }, function runInfoFlow(x: number) {
      stateInside = getRunContext().flowRun.state.name;
      return x * 10;
    }).run(4);
    expect(stateInside).toBe("Running");
    expect(state.type).toBe("COMPLETED");
    expect(state.name).toBe("Completed");
    expect("result" in state && state.result).toBe(40);
    expect(state.flowRun.name).toBe("run-info-run");
    expect(state.flowRun.flowName).toBe("runInfoFlow");
    expect(state.flowRun.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(state.flowRun.parentFlowRunId).toBeUndefined();
    const start = state.flowRun.startTime?.getTime() ?? Number.NaN;
    const end = state.flowRun.endTime?.getTime() ?? Number.NaN;
    expect(start).toBeLessThanOrEqual(end);
    expect(state.timestamp.getTime()).toBe(end);
  });

  it("run() resolves, not rejects, when the flow fails", async () => {
    const thrown = new Error("failed on purpose");
    const state = await flow(function failingRunFlow() {
      throw thrown;
    }).run();
    expect(state.type).toBe("FAILED");
    expect(state.name).toBe("Failed");
    expect("error" in state && state.error).toBe(thrown);
    expect(state.flowRun.flowName).toBe("failingRunFlow");
  });

  it("gives generated flow-run names like `witty-otter`, one per run", async () => {
    const named = flow(function generatedNameFlow() {
      return getRunContext().flowRun.name;
    });
    const [a, b] = await Promise.all([named(), named()]);
    expect(a).toMatch(/^[a-z]+-[a-z]+$/);
    expect(b).toMatch(/^[a-z]+-[a-z]+$/);
    const ids = await Promise.all([named.run(), named.run()]);
    expect(ids[0].flowRun.id).not.toBe(ids[1].flowRun.id);
  });

  it("a top-level flow that fails with nobody awaiting it sets a failing exit code", async () => {
    const before = process.exitCode;
    let failed: () => void = () => {};
    const hookRan = new Promise<void>((resolve) => {
      failed = resolve;
    });
    try {
      flow({ onFailure: () => failed() }, function nobodyAwaitsFlow() {
        throw new Error("nobody looks");
      })();
      await hookRan;
      await sleep(5);
      expect(process.exitCode).toBe(1);
    } finally {
      process.exitCode = before;
    }
  });
});

describe("failed runs and the flow's outcome", () => {
  const tfBoom = task(async function tfBoom(n: number) {
    await sleep(1);
    throw new Error(`boom ${n}`);
  });
  const tfFine = task(function tfFine(n: number) {
    return n;
  });

  it("fails the flow with TaskRunsFailedError naming the un-awaited failed runs", async () => {
    const state = await flow({ flowRunName: "unawaited-failures" }, function unawaitedFailures() {
      tfBoom.submit(1);
      tfFine.submit(2);
      tfBoom.submit(2);
      return "returned";
    }).run();
    expect(state.type).toBe("FAILED");
    const error = "error" in state ? state.error : undefined;
    expect(error).toBeInstanceOf(TaskRunsFailedError);
    const failures = (error as TaskRunsFailedError).failures;
    expect(failures.map((f) => f.name)).toEqual(["tfBoom-0", "tfBoom-1"]);
    expect(failures.map((f) => f.error.message)).toEqual(["boom 1", "boom 2"]);
    expect((error as Error).message).toBe(
      "Flow run 'unawaited-failures' failed because 2 runs failed: 'tfBoom-0' (Error: boom 1), 'tfBoom-1' (Error: boom 2)",
    );
    expect((error as Error).cause).toBe(failures[0]?.error);
  });

  it("await rejects with TaskRunsFailedError for an un-awaited failed direct call", async () => {
    const error = await rejectionOf(
      flow({ flowRunName: "unawaited-direct" }, function unawaitedDirect() {
        tfBoom(7);
        return "returned";
      })(),
    );
    expect(error).toBeInstanceOf(TaskRunsFailedError);
    expect((error as TaskRunsFailedError).failures.map((f) => f.name)).toEqual(["tfBoom-0"]);
    expect((error as Error).message).toBe(
      "Flow run 'unawaited-direct' failed because 1 run failed: 'tfBoom-0' (Error: boom 7)",
    );
  });

  it("does not fail the flow for a failure it handled with result() in try/catch", async () => {
    const state = await flow(async function handledFailure() {
      const future = tfBoom.submit(3);
      try {
        await future.result();
        return "not reached";
      } catch (error) {
        return `handled ${(error as Error).message}`;
      }
    }).run();
    expect(state.type).toBe("COMPLETED");
    expect("result" in state && state.result).toBe("handled boom 3");
  });

  it("does not fail the flow for an awaited direct call it caught", async () => {
    const result = await flow(async function handledDirectCall() {
      try {
        return await tfBoom(4);
      } catch (error) {
        return `caught ${(error as Error).message}`;
      }
    })();
    expect(result).toBe("caught boom 4");
  });

  it("does not fail the flow for a failure read with raiseOnFailure: false", async () => {
    const result = await flow(async function readFailure() {
      const error = await tfBoom.submit(5).result({ raiseOnFailure: false });
      return (error as Error).message;
    })();
    expect(result).toBe("boom 5");
  });
});

describe("a flow waits for every run it started", () => {
  const events: string[] = [];
  const tfSlow = task(async function tfSlow(label: string) {
    await sleep(20);
    events.push(`end ${label}`);
    return label;
  });

  beforeEach(() => {
    events.length = 0;
  });

  it("waits for un-awaited submitted runs", async () => {
    let future: TaskFuture<string> | undefined;
    const result = await flow(function waitsForSubmitted() {
      future = tfSlow.submit("submitted");
      events.push("flow function returned");
      return "done";
    })();
    expect(result).toBe("done");
    expect(events).toEqual(["flow function returned", "end submitted"]);
    expect(future?.state.name).toBe("Completed");
  });

  it("waits for un-awaited direct calls", async () => {
    const result = await flow(function waitsForDirect() {
      tfSlow("direct a");
      tfSlow("direct b");
      events.push("flow function returned");
      return "done";
    })();
    expect(result).toBe("done");
    expect(events.slice(0, 1)).toEqual(["flow function returned"]);
    expect(events.slice(1).sort()).toEqual(["end direct a", "end direct b"]);
  });
});

describe("run states, attempts and times", () => {
  it("goes Pending, Running, Completed with one attempt and start and end times", async () => {
    const seenInside: string[] = [];
    const tfTimed = task(async function tfTimed(ms: number) {
      seenInside.push(getRunContext().taskRun?.state.name ?? "none");
      await sleep(ms);
      return ms;
    });
    let future: TaskFuture<number> | undefined;
    const states: State<number>[] = [];
    let flowRunId = "";
    await flow(async function timedFlow() {
      flowRunId = getRunContext().flowRun.id;
      future = tfTimed.submit(20);
      states.push(future.state);
      await sleep(5);
      states.push(future.state);
      states.push(await future.wait());
    })();

    expect(states.map((s) => `${s.type}/${s.name}`)).toEqual([
      "PENDING/Pending",
      "RUNNING/Running",
      "COMPLETED/Completed",
    ]);
    expect(seenInside).toEqual(["Running"]);
    const final = states[2] as FinalState<number>;
    expect("result" in final && final.result).toBe(20);
    const info = infoOf(future as TaskFuture<number>);
    expect(info.attempts).toBe(1);
    expect(info.taskName).toBe("tfTimed");
    expect(info.name).toBe("tfTimed-0");
    expect(info.flowRunId).toBe(flowRunId);
    expect(info.startTime).toBeInstanceOf(Date);
    expect(info.endTime).toBeInstanceOf(Date);
    expect(info.startTime?.getTime()).toBe(states[1]?.timestamp.getTime());
    expect(info.endTime?.getTime()).toBe(final.timestamp.getTime());
    expect(info.startTime?.getTime()).toBeLessThanOrEqual(info.endTime?.getTime() ?? 0);
  });

  it("counts attempts across retries, and a retry runs as Retrying", async () => {
    const seenInside: string[] = [];
    const tfFlaky = task({ retries: 2, retryDelaySeconds: 0 }, function tfFlaky() {
      seenInside.push(getRunContext().taskRun?.state.name ?? "none");
      if (seenInside.length < 2) throw new Error("first attempt fails");
      return "second time lucky";
    });
    let future: TaskFuture<string> | undefined;
    const result = await flow(function flakyFlow() {
      future = tfFlaky.submit();
      return future;
    })();
    expect(result).toBe("second time lucky");
    expect(seenInside).toEqual(["Running", "Retrying"]);
    expect(infoOf(future as TaskFuture<string>).attempts).toBe(2);
    expect(future?.state.name).toBe("Completed");
  });

  it("ends Failed with the error after its last attempt", async () => {
    const tfAlwaysFails = task({ retries: 1, retryDelaySeconds: 0 }, function tfAlwaysFails() {
      throw new Error("never works");
    });
    let future: TaskFuture<never> | undefined;
    await flow(async function alwaysFailsFlow() {
      future = tfAlwaysFails.submit();
      await future.wait();
    }).run();
    const state = future?.state;
    expect(state?.type).toBe("FAILED");
    expect(state?.name).toBe("Failed");
    expect(state && "error" in state && state.error.message).toBe("never works");
    expect(infoOf(future as TaskFuture<never>).attempts).toBe(2);
  });
});

describe("hooks", () => {
  it("calls a task's onCompletion once with the final state and the run", async () => {
    const calls: string[] = [];
    const tfHooked = task(
      {
        onCompletion: (state, run) => {
          calls.push(`completion ${state.name} ${"result" in state ? state.result : "-"} ${run.name}`);
        },
        onFailure: (state) => {
          calls.push(`failure ${state.name}`);
        },
      },
      function tfHooked(x: number) {
        return x + 1;
      },
    );
    await flow(function taskHooksFlow() {
      return tfHooked.submit(1);
    })();
    expect(calls).toEqual(["completion Completed 2 tfHooked-0"]);
  });

  it("calls a task's onFailure once with the failed state", async () => {
    const calls: string[] = [];
    const tfHookedFails = task(
      {
        retries: 1,
        retryDelaySeconds: 0,
        onCompletion: () => {
          calls.push("completion");
        },
        onFailure: (state, run) => {
          calls.push(`failure ${state.name} ${"error" in state ? state.error.message : "-"} ${run.name}`);
        },
      },
      function tfHookedFails() {
        throw new Error("hooked boom");
      },
    );
    const state = await flow(function taskFailureHooksFlow() {
      tfHookedFails.submit();
    }).run();
    expect(state.type).toBe("FAILED");
    expect(calls).toEqual(["failure Failed hooked boom tfHookedFails-0"]);
  });

  it("calls only onCompletion for a run that failed once and then succeeded", async () => {
    const calls: string[] = [];
    let attempts = 0;
    const tfRetriedHooks = task(
      {
        retries: 1,
        retryDelaySeconds: 0,
        onCompletion: (state) => void calls.push(`completion ${state.name}`),
        onFailure: (state) => void calls.push(`failure ${state.name}`),
      },
      function tfRetriedHooks() {
        attempts += 1;
        if (attempts === 1) throw new Error("first attempt");
        return attempts;
      },
    );
    expect(
      await flow(function retriedHooksFlow() {
        return tfRetriedHooks.submit();
      })(),
    ).toBe(2);
    expect(calls).toEqual(["completion Completed"]);
  });

  it("runs several hooks in order", async () => {
    const calls: string[] = [];
    const tfTwoHooks = task(
      { onCompletion: [() => void calls.push("first"), () => void calls.push("second")] },
      function tfTwoHooks() {
        return 1;
      },
    );
    await flow(function twoHooksFlow() {
      return tfTwoHooks();
    })();
    expect(calls).toEqual(["first", "second"]);
  });

  it("keeps a task's state when its hook throws, and logs the hook's failure", async () => {
    const tfHookThrows = task(
      {
        onCompletion: function explodingHook() {
          throw new Error("hook exploded");
        },
      },
      function tfHookThrows() {
        return "still fine";
      },
    );
    let future: TaskFuture<string> | undefined;
    const state = await flow(function hookThrowsFlow() {
      future = tfHookThrows.submit();
      return future;
    }).run();
    expect(state.type).toBe("COMPLETED");
    expect("result" in state && state.result).toBe("still fine");
    expect(future?.state.name).toBe("Completed");
    expect(logLines.some((line) => line.includes("Hook 'explodingHook' failed: Error: hook exploded"))).toBe(
      true,
    );
  });

  it("keeps a failed task's error when its onFailure hook throws", async () => {
    const original = new Error("the real failure");
    const tfFailureHookThrows = task(
      {
        onFailure: () => {
          throw new Error("hook exploded too");
        },
      },
      function tfFailureHookThrows() {
        throw original;
      },
    );
    const error = await flow(function failureHookThrowsFlow() {
      return tfFailureHookThrows.submit().result({ raiseOnFailure: false });
    })();
    expect(error).toBe(original);
  });

  const tfHookedFlowValue = task(function tfHookedFlowValue(x: number) {
    return x;
  });

  it("calls a flow's onCompletion once with its final state and run info", async () => {
    const calls: string[] = [];
    const hooked = flow(
      {
        flowRunName: "hooked-run",
        onCompletion: (state, info) => {
          calls.push(`completion ${state.name} ${"result" in state ? state.result : "-"} ${info.name}`);
        },
        onFailure: () => {
          calls.push("failure");
        },
      },
      function hookedFlow() {
        return tfHookedFlowValue.submit(5);
      },
    );
    // The hook sees the returned future's result, as the caller does.
    expect(await hooked()).toBe(5);
    expect(calls).toEqual(["completion Completed 5 hooked-run"]);
  });

  it("calls a flow's onFailure once with the failed state", async () => {
    const calls: string[] = [];
    const hooked = flow(
      {
        flowRunName: "hooked-failing-run",
        onCompletion: () => {
          calls.push("completion");
        },
        onFailure: (state, info) => {
          calls.push(`failure ${state.name} ${"error" in state ? state.error.message : "-"} ${info.name}`);
        },
      },
      function hookedFailingFlow() {
        throw new Error("flow boom");
      },
    );
    await expect(hooked()).rejects.toThrow("flow boom");
    expect(calls).toEqual(["failure Failed flow boom hooked-failing-run"]);
  });

  it("keeps a flow's state when its hook throws", async () => {
    const hooked = flow(
      {
        onCompletion: () => {
          throw new Error("flow hook exploded");
        },
      },
      function flowHookThrows() {
        return "flow fine";
      },
    );
    const state = await hooked.run();
    expect(state.type).toBe("COMPLETED");
    expect("result" in state && state.result).toBe("flow fine");
  });
});

describe("subflows", () => {
  it("runs a flow called inside a flow as a child run with parentFlowRunId", async () => {
    const child = flow({ flowRunName: "child-run" }, function sfChild(x: number) {
      return x + 1;
    });
    let parentId = "";
    const childState = await flow(function sfParent() {
      parentId = getRunContext().flowRun.id;
      return child.run(1);
    })();
    expect(childState.type).toBe("COMPLETED");
    expect("result" in childState && childState.result).toBe(2);
    expect(childState.flowRun.name).toBe("child-run");
    expect(childState.flowRun.parentFlowRunId).toBe(parentId);
    expect(parentId).not.toBe("");
  });

  it("gives the child its own task runner", async () => {
    const tfInChild = task(function tfInChild(x: number) {
      return x * 2;
    });
    const tfInParent = task(function tfInParent(x: number) {
      return x * 3;
    });
    const parentRunner = new RecordingRunner();
    const childRunner = new RecordingRunner();
    const child = flow({ taskRunner: childRunner, flowRunName: "own-runner-child" }, function sfOwnChild() {
      return tfInChild.map([1, 2]).result();
    });
    const defaultChild = flow({ flowRunName: "default-runner-child" }, function sfDefaultChild() {
      return tfInChild.submit(5);
    });
    const result = await flow({ taskRunner: parentRunner }, async function sfOwnParent() {
      return [await tfInParent.submit(1), await child(), await defaultChild()];
    })();
    expect(result).toEqual([3, [2, 4], 10]);
    expect(parentRunner.submitted).toEqual(["tfInParent-0"]);
    expect(childRunner.submitted).toEqual(["tfInChild-0", "tfInChild-1"]);
    expect(childRunner.flowRuns.map((r) => r.name)).toEqual(["own-runner-child"]);
    expect(childRunner.flowRuns[0]?.parentFlowRunId).toBe(parentRunner.flowRuns[0]?.id);
  });

  it("fails the parent with TaskRunsFailedError when an un-awaited subflow failed", async () => {
    const events: string[] = [];
    let childId = "";
    const child = flow(
      {
        flowRunName: "failing-child",
        onFailure: (_state, info) => {
          childId = info.id;
        },
      },
      async function sfFailingChild() {
        await sleep(10);
        events.push("child ends");
        throw new Error("child broke");
      },
    );
    const state = await flow({ flowRunName: "parent-of-failing" }, function sfUnawaitedParent() {
      child();
      events.push("parent function returned");
      return "parent done";
    }).run();
    expect(events).toEqual(["parent function returned", "child ends"]);
    expect(state.type).toBe("FAILED");
    const error = "error" in state ? state.error : undefined;
    expect(error).toBeInstanceOf(TaskRunsFailedError);
    const failures = (error as TaskRunsFailedError).failures;
    expect(failures.map((f) => [f.name, f.id, f.error.message])).toEqual([
      ["failing-child", childId, "child broke"],
    ]);
    expect((error as Error).message).toBe(
      "Flow run 'parent-of-failing' failed because 1 run failed: 'failing-child' (Error: child broke)",
    );
  });

  it("does not fail the parent for an awaited subflow failure it caught", async () => {
    const child = flow(function sfCaughtChild() {
      throw new ParseError("child parse", 2);
    });
    const result = await flow(async function sfCatchingParent() {
      try {
        await child();
        return "not reached";
      } catch (error) {
        return `${(error as Error).name}: ${(error as Error).message}`;
      }
    })();
    expect(result).toBe("ParseError: child parse");
  });
});

describe("result() of a failed run", () => {
  const tfParse = task(async function tfParse(text: string) {
    await sleep(1);
    throw new ParseError(`cannot parse '${text}'`, 12);
  });
  const tfParseSync = task(function tfParseSync(text: string) {
    throw new ParseError(`cannot parse '${text}' at once`, 4);
  });

  it("rethrows the task's own error class and message, with taskRunName set", async () => {
    const errors = await flow(async function parseFlow() {
      const futures = [tfParse.submit("a"), tfParseSync.submit("b")];
      const caught: { error: unknown; id: string }[] = [];
      for (const future of futures) {
        caught.push({ error: await rejectionOf(future.result()), id: future.taskRunId });
      }
      return caught;
    })();
    expect(errors).toHaveLength(2);
    const [fromAsync, fromSync] = errors as [
      { error: TaskRunError; id: string },
      { error: TaskRunError; id: string },
    ];
    expect(fromAsync.error).toBeInstanceOf(ParseError);
    expect(fromAsync.error.name).toBe("ParseError");
    expect(fromAsync.error.message).toBe("cannot parse 'a'");
    expect((fromAsync.error as ParseError).line).toBe(12);
    expect(fromAsync.error.taskRunName).toBe("tfParse-0");
    expect(fromAsync.error.taskRunId).toBe(fromAsync.id);
    expect(fromSync.error).toBeInstanceOf(ParseError);
    expect(fromSync.error.message).toBe("cannot parse 'b' at once");
    expect(fromSync.error.taskRunName).toBe("tfParseSync-0");
    expect(fromSync.error.taskRunId).toBe(fromSync.id);
  });

  it("rethrows the same error from an awaited direct call, with taskRunName set", async () => {
    const error = await flow(function parseDirectFlow() {
      return rejectionOf(tfParse("c"));
    })();
    expect(error).toBeInstanceOf(ParseError);
    expect((error as TaskRunError).message).toBe("cannot parse 'c'");
    expect((error as TaskRunError).taskRunName).toBe("tfParse-0");
  });

  it("wraps a thrown non-Error in a SquallError that says what was thrown", async () => {
    const tfThrowsString = task(function tfThrowsString() {
      throw "plain string";
    });
    const error = await flow(function throwsStringFlow() {
      return rejectionOf(tfThrowsString.submit().result());
    })();
    expect(error).toBeInstanceOf(SquallError);
    expect((error as TaskRunError).message).toBe("A non-Error value was thrown: plain string");
    expect((error as TaskRunError).taskRunName).toBe("tfThrowsString-0");
  });

  it("shows a thrown object as util.inspect does, on one line and bounded, not as [object Object]", async () => {
    const tfThrowsObject = task(function tfThrowsObject() {
      throw { code: 42, reason: "quota" };
    });
    const tfThrowsHuge = task(function tfThrowsHuge() {
      throw { text: "x".repeat(1000) };
    });
    const [error, huge] = await flow(async function throwsObjectFlow() {
      return [
        await rejectionOf(tfThrowsObject.submit().result()),
        await rejectionOf(tfThrowsHuge.submit().result()),
      ];
    })();
    expect(error).toBeInstanceOf(SquallError);
    expect((error as Error).message).toBe("A non-Error value was thrown: { code: 42, reason: 'quota' }");
    // No stack of squall's frames: they would say nothing of where it was thrown.
    expect((error as Error).stack).toBe(
      "SquallError: A non-Error value was thrown: { code: 42, reason: 'quota' }",
    );
    expect((huge as Error).message).toBe(`A non-Error value was thrown: { text: '${"x".repeat(288)}...`);
  });

  it("gives the same error each time result() is called", async () => {
    const [first, second] = await flow(async function parseTwiceFlow() {
      const future = tfParseSync.submit("d");
      return [await rejectionOf(future.result()), await rejectionOf(future.result())];
    })();
    expect(first).toBeInstanceOf(ParseError);
    expect(second).toBe(first);
  });
});

describe("the default task runner", () => {
  it("is concurrent: submitted runs overlap", async () => {
    let inFlight = 0;
    let most = 0;
    const tfOverlap = task(async function tfOverlap(i: number) {
      inFlight += 1;
      most = Math.max(most, inFlight);
      await sleep(10);
      inFlight -= 1;
      return i;
    });
    const result = await flow(function defaultRunnerFlow() {
      return tfOverlap.map([0, 1, 2, 3, 4]).result();
    })();
    expect(result).toEqual([0, 1, 2, 3, 4]);
    expect(most).toBe(5);
    expect(new ConcurrentTaskRunner().name).toBe("concurrent");
  });
});
