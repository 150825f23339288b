import {
  type AttemptOutcome,
  configureLogging,
  flow,
  type RunnableTaskRun,
  resetLogging,
  type TaskAttempt,
  type TaskInvoker,
  type TaskRunner,
  task,
} from "squall";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

/** A runner whose attempts go to a "fleet" that answers as the test says. */
function fleetRunner(invoker: TaskInvoker): TaskRunner {
  return {
    name: "fleet",
    start: () => ({ submit: (run: RunnableTaskRun) => void run.execute(invoker), shutdown: () => {} }),
  };
}

beforeEach(() => configureLogging({ write: () => {} }));
afterEach(() => resetLogging());

describe("an invoker whose fleet retries and enforces deadlines itself", () => {
  it("takes the fleet's failure as final, with the attempts it spent, and never retries it here", async () => {
    const seen: TaskAttempt[] = [];
    const invoker: TaskInvoker = {
      retriesElsewhere: true,
      invoke: async (attempt): Promise<AttemptOutcome> => {
        seen.push(attempt);
        return { status: "failed", error: new RangeError("still failing"), attempts: 3 };
      },
      stop: () => {},
    };
    const flaky = task({ retries: 2 }, function flakyInFleet() {
      return "never here";
    });
    const run = flow({ taskRunner: fleetRunner(invoker) }, async function fleetFlow() {
      const future = flaky.submit();
      const error = await future.result({ raiseOnFailure: false });
      return {
        error,
        attempts: (future as unknown as { attempts: number }).attempts,
        state: future.state.name,
      };
    });

    const outcome = await run();

    expect(seen).toHaveLength(1);
    expect(outcome.error).toBeInstanceOf(RangeError);
    expect(outcome.attempts).toBe(3);
    expect(outcome.state).toBe("Failed");
  });

  it("does not time a run out here: the fleet enforces the deadline", async () => {
    const invoker: TaskInvoker = {
      retriesElsewhere: true,
      invoke: (attempt) =>
        new Promise((resolve) => {
          attempt.started();
          setTimeout(() => resolve({ status: "completed", value: "late but fine", attempts: 1 }), 120);
        }),
      stop: () => {},
    };
    const slow = task({ timeoutSeconds: 0.03 }, function slowInFleet() {
      return "never here";
    });
    const run = flow({ taskRunner: fleetRunner(invoker) }, async function slowFleetFlow() {
      return slow.submit().result();
    });

    expect(await run()).toBe("late but fine");
  });

  it("retries here when the invoker does not retry elsewhere", async () => {
    let calls = 0;
    const invoker: TaskInvoker = {
      invoke: async (): Promise<AttemptOutcome> => {
        calls += 1;
        return calls < 3
          ? { status: "failed", error: new Error(`call ${calls}`) }
          : { status: "completed", value: calls };
      },
      stop: () => {},
    };
    const retried = task({ retries: 2 }, function retriedHere() {
      return 0;
    });
    const run = flow({ taskRunner: fleetRunner(invoker) }, async function hereFlow() {
      return retried.submit().result();
    });

    expect(await run()).toBe(3);
    expect(calls).toBe(3);
  });
});
