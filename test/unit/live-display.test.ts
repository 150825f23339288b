// What `squall run` shows as a run goes: the counts (pending, sent, running, retrying and the
// final states) from run events and what the Lambda runner reports, a bar per task name in a
// large run, the plain lines' equivalent, the final summary by task name, and the lines saying
// where task runs go. Rendered into fake streams; the clock is given.
import pc from "picocolors";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { inTimeOrder } from "../../sdk/aws/runner/replay-order.js";
import type { Outcome } from "../../sdk/aws/wire/messages.js";
import { LiveDisplay } from "../../sdk/cli/live-display.js";
import { PlainLines } from "../../sdk/cli/plain-lines.js";
import type { Reporter } from "../../sdk/cli/reporter.js";
import { progressListener } from "../../sdk/cli/run-command.js";
import { Tally } from "../../sdk/cli/tally.js";
import { summaryLines } from "../../sdk/cli/task-names.js";
import type { RunEvent } from "../../sdk/observe.js";
import type { StateName } from "../../sdk/states.js";

const plain = pc.createColors(false);

function event(id: string, definition: string, state: StateName, time = 1_000, endedAt?: number): RunEvent {
  return {
    kind: "task",
    id,
    name: `${definition}-${id}`,
    definition,
    flowRunId: "flow",
    state,
    time,
    ...(endedAt !== undefined && { endedAt }),
  };
}

/** A terminal stream that keeps what is written to it. */
function fakeTerminal(rows = 24) {
  const writes: string[] = [];
  const stream = {
    isTTY: true,
    columns: 100,
    rows,
    write(chunk: string | Uint8Array) {
      writes.push(String(chunk));
      return true;
    },
  } as unknown as NodeJS.WriteStream;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: strips the terminal's control sequences
  const text = () => writes.join("").replace(/\u001b\[[0-9;?]*[A-Za-z]/g, "");
  return { stream, writes, text };
}

describe("the tally of a run on the Lambda runner", () => {
  it("counts pending (not sent), sent, retrying and final runs from what the runner reports", () => {
    const tally = new Tally(1_000);
    for (const id of ["a", "b", "c", "d"]) {
      tally.add(event(id, "work", "Running"));
      tally.progress({ kind: "task", id, phase: "queued" });
    }
    expect(tally.describe(2_000)).toBe("4 pending, 0 sent, 0 completed, 0 failed · 1.00 s · 0.0 task runs/s");
    for (const id of ["b", "c", "d"]) tally.progress({ kind: "task", id, phase: "sent" });
    tally.progress({ kind: "task", id: "c", phase: "retrying", attempt: 1 });
    tally.add(event("d", "work", "Completed"));
    expect(tally.describe(3_000)).toBe(
      "1 pending, 1 sent, 1 retrying, 1 completed, 0 failed · 2.00 s · 0.5 task runs/s",
    );
    tally.add(event("c", "work", "Failed"));
    expect(tally.describe(3_000)).toBe("1 pending, 1 sent, 1 completed, 1 failed · 2.00 s · 1.0 task runs/s");
  });

  it("counts a run in process waiting for its retry as retrying, not pending", () => {
    const tally = new Tally(0);
    tally.add(event("a", "work", "Running"));
    tally.add(event("a", "work", "AwaitingRetry"));
    tally.add(event("b", "work", "Pending"));
    expect(tally.describe(1_000)).toBe(
      "1 pending, 0 running, 1 retrying, 0 completed, 0 failed · 1.00 s · 0.0 task runs/s",
    );
  });
});

describe("the live display", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("shows the flow run and the counts in a small run, no bars", () => {
    const tally = new Tally(0);
    tally.add(event("a", "work", "Running"));
    tally.progress({ kind: "task", id: "a", phase: "sent" });
    const { stream, text } = fakeTerminal();
    const other = fakeTerminal();
    const display = new LiveDisplay(tally, plain, { stream, other: other.stream, now: () => 1_500 });
    display.start();
    display.begin({ id: "f", name: "fancy-coyote", flowName: "greetings" });
    expect(display.frame()).toBe(
      "⠙ greetings · fancy-coyote\n  0 pending, 1 sent, 0 completed, 0 failed · 1.50 s · 0.0 task runs/s",
    );
    expect(text()).toBe(`${display.frame()}\n`);
    display.end();
  });

  it("says the environment is starting while it starts, then counts runs sent, not running", () => {
    const tally = new Tally(0);
    const { stream } = fakeTerminal();
    let now = 1_200;
    const display = new LiveDisplay(tally, plain, { stream, other: fakeTerminal().stream, now: () => now });
    display.begin({ id: "f", name: "fancy-coyote", flowName: "greetings" });
    tally.progress({ kind: "environment", phase: "starting", description: "the local environment" });
    expect(display.frame()).toBe("⠙ greetings · fancy-coyote\n  starting the local environment… · 1.20 s");
    tally.progress({
      kind: "environment",
      phase: "ready",
      description: "a local environment of this flow run's",
    });
    now = 1_500;
    expect(display.frame()).toBe(
      "⠙ greetings · fancy-coyote\n  0 pending, 0 sent, 0 completed, 0 failed · 1.50 s · 0.0 task runs/s",
    );
    display.end();
  });

  it("shows a bar per task name, done of all, in a run of more than a few task names", () => {
    const tally = new Tally(0);
    const names = ["load", "parse", "score", "store"];
    names.forEach((name, n) => {
      for (let i = 0; i < 4; i++) tally.add(event(`${name}-${i}`, name, "Running"));
      for (let i = 0; i < n; i++) tally.add(event(`${name}-${i}`, name, "Completed"));
    });
    tally.add(event("store-3", "store", "Failed"));
    const { stream } = fakeTerminal();
    const display = new LiveDisplay(tally, plain, { stream, other: fakeTerminal().stream, now: () => 2_000 });
    display.begin({ id: "f", name: "brave-otter", flowName: "pipeline" });
    expect(display.frame()).toBe(
      [
        "⠙ pipeline · brave-otter",
        "  0 pending, 9 running, 6 completed, 1 failed · 2.00 s · 3.5 task runs/s",
        "  load   ░░░░░░░░░░░░░░░░░░░░░░░░  0/4",
        "  parse  ██████░░░░░░░░░░░░░░░░░░  1/4",
        "  score  ████████████░░░░░░░░░░░░  2/4",
        "  store  ████████████████████████  4/4  1 failed",
      ].join("\n"),
    );
    display.end();
  });

  it("shows as many bars as the terminal has room for, and how many names it left out", () => {
    const tally = new Tally(0);
    for (let n = 0; n < 8; n++) tally.add(event(`r${n}`, `task${n}`, "Running"));
    const { stream } = fakeTerminal(7);
    const display = new LiveDisplay(tally, plain, { stream, other: fakeTerminal().stream, now: () => 0 });
    display.begin({ id: "f", name: "brave-otter", flowName: "pipeline" });
    expect(display.frame().split("\n").slice(2)).toEqual([
      "  task0  ░░░░░░░░░░░░░░░░░░░░░░░░  0/1",
      "  task1  ░░░░░░░░░░░░░░░░░░░░░░░░  0/1",
      "  task2  ░░░░░░░░░░░░░░░░░░░░░░░░  0/1",
      "  … 5 more task names",
    ]);
    display.end();
  });
});

describe("plain progress lines", () => {
  it("say the counts and, in a large run, runs done by task name, only when something changed", () => {
    const tally = new Tally(0);
    for (let n = 0; n < 5; n++) tally.add(event(`r${n}`, `task${n}`, "Running"));
    tally.add(event("r0", "task0", "Completed"));
    const { stream, text } = fakeTerminal();
    const lines = new PlainLines(tally, 5_000, stream);
    lines.tick(10_000);
    lines.tick(15_000);
    expect(text()).toBe(
      "squall: 0 pending, 4 running, 1 completed, 0 failed · 10.00 s · 0.1 task runs/s\n" +
        "squall: by task: task0 1/1, task1 0/1, task2 0/1, task3 0/1, task4 0/1\n",
    );
  });
});

describe("the final summary by task name", () => {
  it("gives each name's counts, the time from its first run to its last end, and its throughput", () => {
    const tally = new Tally(0);
    for (let i = 0; i < 4; i++) tally.add(event(`a${i}`, "sayHello", "Running", 1_000));
    for (let i = 0; i < 4; i++) tally.add(event(`a${i}`, "sayHello", "Completed", 1_500, 3_000));
    tally.add(event("b0", "sayGoodbye", "Running", 2_000));
    tally.add(event("b0", "sayGoodbye", "Failed", 2_400, 2_500));
    expect(summaryLines(tally, 9_000)).toEqual([
      "sayHello    4 completed, 0 failed · 2.00 s · 2.0 task runs/s",
      "sayGoodbye  0 completed, 1 failed · 500 ms · 2.0 task runs/s",
    ]);
    expect(summaryLines(tally, 9_000, undefined, false)).toEqual([
      "sayHello    4 completed, 0 failed · 2.00 s",
      "sayGoodbye  0 completed, 1 failed · 500 ms",
    ]);
  });
});

describe("where the task runs go", () => {
  it("says the environment is starting, then which one the runs use", () => {
    const said: string[] = [];
    const reporter: Reporter = { begin() {}, line: (text) => said.push(text), end() {} };
    const listener = progressListener(new Tally(0), reporter);
    listener({ kind: "environment", phase: "starting", description: "the local environment" });
    listener({
      kind: "environment",
      phase: "ready",
      description: "a local environment of this flow run's at http://127.0.0.1:4566, bucket squall-local",
    });
    expect(said).toEqual([
      "squall: starting the local environment…",
      "squall: task runs go to a local environment of this flow run's at http://127.0.0.1:4566, bucket squall-local",
    ]);
  });
});

describe("replayed lines", () => {
  const outcome = (id: string, startedAt: number, logs: Outcome["logs"]): Outcome => ({
    flowRunId: "flow",
    taskRunId: id,
    attempt: 1,
    status: "completed",
    serializer: "default",
    startedAt,
    endedAt: startedAt + 100,
    logs,
  });
  const log = (time: number, message: string) => ({ time, level: "INFO" as const, message });

  it("come in the order of their own times across the outcomes that arrived together", () => {
    const slow = outcome("slow", 100, [
      log(100, "slow starts"),
      { stream: "stdout", text: "slow prints" },
      log(400, "slow ends"),
    ]);
    const quick = outcome("quick", 200, [{ stream: "stdout", text: "quick prints" }, log(300, "quick ends")]);
    const ordered = inTimeOrder([
      { scope: "quick", outcome: quick },
      { scope: "slow", outcome: slow },
    ]);
    expect(
      ordered.map(({ scope, entry }) => `${scope}: ${"text" in entry ? entry.text : entry.message}`),
    ).toEqual([
      "slow: slow starts",
      "slow: slow prints",
      "quick: quick prints",
      "quick: quick ends",
      "slow: slow ends",
    ]);
  });

  it("keep a run's attempts in attempt order, whatever the workers' clocks say", () => {
    const first = { ...outcome("run", 500, [log(500, "attempt 1 fails")]), status: "retrying" as const };
    // The second attempt ran on a worker whose clock is behind.
    const second = { ...outcome("run", 300, [log(300, "attempt 2 succeeds")]), attempt: 2 };
    const other = outcome("other", 400, [log(400, "other run")]);
    const ordered = inTimeOrder([
      { scope: "run", outcome: first },
      { scope: "run", outcome: second },
      { scope: "other", outcome: other },
    ]);
    expect(ordered.map(({ entry }) => ("message" in entry ? entry.message : entry.text))).toEqual([
      "other run",
      "attempt 1 fails",
      "attempt 2 succeeds",
    ]);
  });
});
