// The dashboard's server and the page's model, without a browser: the run record is written
// here line by line, as the CLI's recorder writes it. test/e2e/dashboard.test.ts drives the page.
import { appendFileSync, mkdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { get } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidArgumentError } from "squall";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type Dashboard, dashboardCommand, startDashboard } from "../../sdk/cli/dashboard/index.js";
import {
  applyLine,
  attribution,
  countByKind,
  countByState,
  createRun,
  failures,
  filterTaskRuns,
  handledFailures,
  type Line,
  MAX_LANES_PER_WORKER,
  ownFlowRun,
  progressByTask,
  taskRunRows,
  timeline,
} from "../../sdk/cli/dashboard/page/model.js";
import { UsageError } from "../../sdk/cli/usage-error.js";
import { defaultRoot } from "../../sdk/records/record.js";
import { serverSentEvents } from "../support/server-sent-events.js";

const flowEvent = (id: string, state: string, time: number, error?: object) => ({
  kind: "flow",
  id,
  name: "calm-heron",
  definition: "nightly",
  flowRunId: undefined,
  state,
  time,
  ...(error ? { error } : {}),
});
const taskEvent = (flowRunId: string, id: string, state: string, time: number, error?: object) => ({
  kind: "task",
  id,
  name: `${id}-name`,
  definition: "load",
  flowRunId,
  state,
  time,
  attempts: 1,
  ...(error ? { error } : {}),
});

let dir: string;
let root: string;
let dashboard: Dashboard;

/** Appends lines to run `id`'s record, as the recorder does. */
function record(id: string, ...lines: object[]): void {
  mkdirSync(join(root, "runs", id), { recursive: true });
  appendFileSync(
    join(root, "runs", id, "events.jsonl"),
    lines.map((line) => `${JSON.stringify(line)}\n`).join(""),
  );
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "squall-dashboard-unit-"));
  root = join(dir, ".squall");
  dashboard = await startDashboard({ root, pollMs: 50 });
});
afterAll(async () => {
  await dashboard?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("startDashboard", () => {
  it("serves the page from this machine, with nothing loaded from elsewhere", async () => {
    expect(dashboard.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await fetch(dashboard.url);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
    const html = await page.text();
    expect(html).toContain('<script type="module" src="/app.js"></script>');
    expect(html).not.toMatch(/https?:\/\//);
    for (const asset of ["app.js", "model.js", "style.css", "favicon.svg"]) {
      expect((await fetch(new URL(asset, dashboard.url))).status, asset).toBe(200);
    }
    expect((await fetch(new URL("server.ts", dashboard.url))).status).toBe(404);
    expect((await fetch(new URL("page/../records.ts", dashboard.url))).status).toBe(404);
  });

  it("serves the run list as a script the page runs before its own, as data and not markup", async () => {
    const own = join(dir, "boot", ".squall");
    mkdirSync(join(own, "runs", "boot-run"), { recursive: true });
    appendFileSync(
      join(own, "runs", "boot-run", "events.jsonl"),
      `${JSON.stringify({ ...flowEvent("boot-run", "Running", 500), name: "</script><b>x</b>" })}\n`,
    );
    const board = await startDashboard({ root: own });
    const answer = await fetch(new URL("boot.js", board.url));
    expect(answer.status).toBe(200);
    expect(answer.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    const text = await answer.text();
    const prefix = "globalThis.squallBoot = ";
    expect(text.startsWith(prefix)).toBe(true);
    const boot = JSON.parse(text.slice(prefix.length).replace(/;\n$/, "")) as {
      root: string;
      runs: { id: string; name: string }[];
    };
    expect(boot.root).toBe(".squall");
    expect(boot.runs.map((run) => [run.id, run.name])).toEqual([["boot-run", "</script><b>x</b>"]]);
    await board.stop();
    const html = await (await fetch(dashboard.url)).text();
    expect(html.indexOf('<script src="/boot.js"></script>')).toBeGreaterThan(-1);
    expect(html.indexOf('<script src="/boot.js"></script>')).toBeLessThan(html.indexOf('src="/app.js"'));
  });

  it("lists runs newest first with their state and counts, and gives one run's lines", async () => {
    record("older", flowEvent("older", "Running", 1_000), flowEvent("older", "Completed", 2_000));
    record(
      "newer",
      {
        kind: "meta",
        flowRunId: "newer",
        flowName: "nightly",
        file: "flows.ts",
        runner: "lambda",
        startedAt: 5_000,
      },
      flowEvent("newer", "Running", 5_001),
      taskEvent("newer", "t1", "Running", 5_002),
      taskEvent("newer", "t1", "Completed", 5_100),
      taskEvent("newer", "t2", "Running", 5_003),
    );
    // A line still being written is not a line yet.
    const partial = '{"kind":"log","ti';
    appendFileSync(join(root, "runs", "newer", "events.jsonl"), partial);

    const { runs } = (await (await fetch(new URL("api/runs", dashboard.url))).json()) as {
      runs: Array<Record<string, unknown>>;
    };
    expect(runs.map((run) => run.id)).toEqual(["newer", "older"]);
    // What `squall runs` says of them (the same backend's fold), and whether each is final.
    expect(runs[0]).toMatchObject({
      flowName: "nightly",
      name: "calm-heron",
      state: "Running",
      final: false,
      startedAt: 5_001,
      counts: { pending: 0, running: 1, completed: 1, failed: 0, crashed: 0, cancelled: 0 },
    });
    expect(runs[1]).toMatchObject({ state: "Completed", final: true, startedAt: 1_000, endedAt: 2_000 });

    const one = (await (await fetch(new URL("api/runs/newer", dashboard.url))).json()) as {
      events: unknown[];
      offset: number;
    };
    expect(one.events).toHaveLength(5);
    expect(one.offset).toBe(
      readFileSync(join(root, "runs", "newer", "events.jsonl")).length - partial.length,
    );
    // The live run goes on: its summary folds what was added, the line then completed included.
    appendFileSync(join(root, "runs", "newer", "events.jsonl"), 'me":5200,"level":"INFO","message":"hi"}\n');
    record("newer", taskEvent("newer", "t2", "Completed", 5_300), flowEvent("newer", "Completed", 5_400));
    const again = (await (await fetch(new URL("api/runs", dashboard.url))).json()) as {
      runs: Array<Record<string, unknown>>;
    };
    expect(again.runs[0]).toMatchObject({
      id: "newer",
      state: "Completed",
      final: true,
      endedAt: 5_400,
      counts: { pending: 0, running: 0, completed: 2, failed: 0, crashed: 0, cancelled: 0 },
    });
    expect((await fetch(new URL("api/runs/missing", dashboard.url))).status).toBe(404);
    expect((await fetch(new URL("api/runs/..%2F..%2Fetc", dashboard.url))).status).toBe(404);
  });

  it("streams a live run's new lines as they are appended, and ends once the run is final", async () => {
    record("live", flowEvent("live", "Running", 1));
    const { offset } = (await (await fetch(new URL("api/runs/live", dashboard.url))).json()) as {
      offset: number;
    };
    const response = await fetch(new URL(`api/runs/live/events?from=${offset}`, dashboard.url));
    expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const events = serverSentEvents(response);

    record("live", taskEvent("live", "t1", "Running", 2));
    const first = await events.next();
    expect(JSON.parse(first.value?.data ?? "")).toMatchObject({ kind: "task", id: "t1", state: "Running" });

    // A line written in two pieces arrives once, whole.
    const file = join(root, "runs", "live", "events.jsonl");
    const line = JSON.stringify(taskEvent("live", "t1", "Completed", 3));
    appendFileSync(file, line.slice(0, 20));
    await new Promise((resolve) => setTimeout(resolve, 120));
    appendFileSync(file, `${line.slice(20)}\n`);
    record("live", flowEvent("live", "Completed", 4), {
      kind: "log",
      time: 5,
      level: "INFO",
      message: "bye",
    });

    const rest: Array<{ event: string; data: string }> = [];
    for await (const event of events) rest.push(event);
    expect(rest.map((event) => (event.event === "end" ? "end" : JSON.parse(event.data).kind))).toEqual([
      "task",
      "flow",
      "log",
      "end",
    ]);
  });

  it("ends a final run's stream at once, after the lines past `from`", async () => {
    record("done", flowEvent("done", "Running", 1), flowEvent("done", "Failed", 2));
    const response = await fetch(new URL("api/runs/done/events?from=0", dashboard.url));
    const seen: string[] = [];
    for await (const event of serverSentEvents(response)) seen.push(event.event);
    expect(seen).toEqual(["message", "message", "end"]);
  });

  it("answers only requests addressed to this machine", async () => {
    const { port } = new URL(dashboard.url);
    // A page elsewhere whose host name was rebound to 127.0.0.1 sends its own name.
    const rebound = await new Promise<number>((resolve, reject) => {
      get(
        { host: "127.0.0.1", port, path: "/api/runs", headers: { host: `evil.example:${port}` } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      ).on("error", reject);
    });
    expect(rebound).toBe(403);
    expect((await fetch(`http://localhost:${port}/api/runs`)).status).toBe(200);
    expect((await fetch(dashboard.url, { method: "POST" })).status).toBe(405);
  });

  it("refuses to listen anywhere but on a loopback address", async () => {
    await expect(startDashboard({ root, host: "0.0.0.0" })).rejects.toThrow(InvalidArgumentError);
    await expect(startDashboard({ root, port: 70_000 })).rejects.toThrow(
      "Expected `port` to be an integer from 0 to 65535, got `70000`",
    );
  });
});

describe("dashboardCommand", () => {
  it("prints the URL, serves until stopped, then stops", async () => {
    const printed: string[] = [];
    const stop = new AbortController();
    const serving = dashboardCommand({ root, signal: stop.signal, write: (text) => printed.push(text) });
    await vi.waitFor(() =>
      expect(printed.join("")).toMatch(/^squall dashboard: http:\/\/127\.0\.0\.1:\d+\//),
    );
    const url = /http:\S+/.exec(printed.join(""))?.[0] as string;
    expect(printed.join("")).toContain(`runs under ${root}; press Ctrl-C to stop`);
    expect((await fetch(new URL("api/runs", url))).status).toBe(200);
    stop.abort();
    expect(await serving).toBe(0);
    await expect(fetch(url)).rejects.toThrow();
  });

  it("refuses a backend that is not one, saying what it takes", async () => {
    await expect(startDashboard({ backend: {} as never })).rejects.toThrow(
      "Expected `backend` to be a RunBackend (with list, resolve, summary, read and follow), such as new BucketRunBackend(address) of squall/aws",
    );
  });

  it("says what is wrong with a port it cannot use", async () => {
    await expect(dashboardCommand({ root, port: "http" })).rejects.toThrow(
      new UsageError("Expected --port to be an integer from 0 to 65535, got `http`."),
    );
    const taken = Number(new URL(dashboard.url).port);
    await expect(dashboardCommand({ root, port: String(taken) })).rejects.toThrow(
      `Port ${taken} is in use: pick another with --port, or leave --port out for a free one.`,
    );
  });
});

describe("defaultRoot", () => {
  it("is $SQUALL_HOME, else .squall in the current directory", () => {
    expect(defaultRoot({ SQUALL_HOME: "/srv/runs" }, "/home/me")).toBe("/srv/runs");
    expect(defaultRoot({}, "/home/me/project")).toBe("/home/me/project/.squall");
  });
});

describe("the page's model", () => {
  const fold = (lines: object[]) => {
    const run = createRun("f");
    for (const line of lines) applyLine(run, line as Line);
    return run;
  };

  it("puts task runs that overlap on separate lanes, and reuses a lane once it is free", () => {
    const run = fold([
      flowEvent("f", "Running", 0),
      taskEvent("f", "a", "Running", 0),
      taskEvent("f", "b", "Running", 10),
      taskEvent("f", "a", "Completed", 50),
      taskEvent("f", "c", "Running", 60), // after a ended: a's lane
      taskEvent("f", "b", "Completed", 100),
      taskEvent("f", "d", "Pending", 70), // never ran yet: drawn from when it was seen
    ]);
    const { bars, lanes, from, to } = timeline(run, 200);
    const laneOf = Object.fromEntries(bars.map((bar) => [bar.taskRun.id, bar.lane]));
    expect(laneOf).toEqual({ a: 0, b: 1, c: 0, d: 2 });
    expect(lanes.map((lane) => lane.label)).toEqual(["lane 1", "lane 2", "lane 3"]);
    expect(bars.find((bar) => bar.taskRun.id === "c")).toMatchObject({ start: 60, end: 200, live: true });
    expect([from, to]).toEqual([0, 200]);
  });

  it("starts the time axis at the first task run, not at the flow's start", () => {
    const run = fold([
      flowEvent("f", "Running", 0),
      taskEvent("f", "a", "Running", 3_000), // three seconds of an environment starting first
      taskEvent("f", "a", "Completed", 3_050),
      taskEvent("f", "b", "Running", 3_020),
      taskEvent("f", "b", "Completed", 3_100),
      flowEvent("f", "Completed", 3_400),
    ]);
    expect(timeline(run, 4_000)).toMatchObject({ from: 3_000, to: 3_100 });
    const none = fold([flowEvent("f", "Running", 0)]);
    expect(timeline(none, 500)).toMatchObject({ from: 0, to: 500 });
  });

  it("groups lanes by worker, a worker running runs at once having a lane for each", () => {
    const lambda = "2026/11/27/[$LATEST]0f1e2d3c4b5a69788796a5b4c3d2e1f0";
    const run = fold([
      { ...taskEvent("f", "a", "Running", 0), worker: "thread 1" },
      { ...taskEvent("f", "b", "Running", 5), worker: lambda },
      { ...taskEvent("f", "c", "Running", 6), worker: lambda }, // overlaps b on the same worker
      { ...taskEvent("f", "d", "Running", 7), worker: "thread 1" }, // overlaps a
      { ...taskEvent("f", "a", "Completed", 8), worker: "thread 1" },
      { ...taskEvent("f", "e", "Running", 9), worker: "thread 1" }, // a's lane is free again
      taskEvent("f", "g", "Pending", 9), // no worker yet
    ]);
    const { bars, lanes } = timeline(run, 10);
    const laneOf = Object.fromEntries(bars.map((bar) => [bar.taskRun.id, bar.lane]));
    expect(laneOf).toEqual({ a: 0, d: 1, e: 0, b: 2, c: 3, g: 4 });
    expect(lanes).toEqual([
      { label: "thread 1", title: "thread 1", first: true, index: 0 },
      { label: "", title: "thread 1", first: false, index: 1 },
      { label: "λ 0f1e2d3c", title: lambda, first: true, index: 0 },
      { label: "", title: lambda, first: false, index: 1 },
      { label: "no worker reported", title: "no worker reported", first: true, index: 0 },
    ]);
  });

  it("gives a worker at most MAX_LANES_PER_WORKER lanes, stacking the rest where a lane frees first", () => {
    const count = MAX_LANES_PER_WORKER + 3;
    const lines = Array.from({ length: count }, (_, i) => ({
      ...taskEvent("f", `t${i}`, "Running", i),
      worker: "in process",
    }));
    const ends = Array.from({ length: count }, (_, i) => ({
      ...taskEvent("f", `t${i}`, "Completed", 1000 - i), // the later a run started, the sooner it ends
      worker: "in process",
    }));
    const { bars, lanes } = timeline(fold([...lines, ...ends]), 2000);
    expect(lanes).toHaveLength(MAX_LANES_PER_WORKER);
    const laneOf = Object.fromEntries(bars.map((bar) => [bar.taskRun.id, bar.lane]));
    // The first runs past the limit go to the lane whose run ends first: the last one opened.
    expect(laneOf[`t${MAX_LANES_PER_WORKER}`]).toBe(MAX_LANES_PER_WORKER - 1);
  });

  it("draws a run that ran elsewhere from its worker's times, not from when it queued here", () => {
    const run = fold([
      taskEvent("f", "a", "Running", 0), // submitted
      { ...taskEvent("f", "a", "Completed", 90), worker: "w1", startedAt: 40, endedAt: 60 },
    ]);
    const [bar] = timeline(run, 100).bars;
    expect(bar).toMatchObject({ start: 40, end: 60, live: false });
    expect(bar?.taskRun.worker).toBe("w1");
  });

  it("counts task runs by their latest state and lists failures with their errors", () => {
    const error = { name: "TypeError", message: "no", stack: "TypeError: no\n    at load" };
    const run = fold([
      flowEvent("f", "Running", 0),
      taskEvent("f", "a", "Running", 1),
      taskEvent("f", "a", "Completed", 2),
      taskEvent("f", "b", "Running", 1),
      taskEvent("f", "b", "Failed", 3, error),
      taskEvent("f", "c", "Pending", 1),
      flowEvent("f", "Failed", 4, { name: "TaskRunsFailedError", message: "b failed" }),
    ]);
    expect(countByState(run)).toEqual({ Completed: 1, Failed: 1, Pending: 1 });
    expect(countByKind(run)).toEqual({
      pending: 1,
      running: 0,
      completed: 1,
      failed: 1,
      crashed: 0,
      cancelled: 0,
    });
    expect(failures(run).map((failure) => [failure.kind, failure.id, failure.error?.message])).toEqual([
      ["flow", "f", "b failed"],
      ["task", "b", "no"],
    ]);
  });

  it("counts a completed flow run's failed and crashed task runs as handled failures, and no other run's", () => {
    const counts = { pending: 0, running: 0, completed: 12, failed: 15, crashed: 3, cancelled: 1 };
    expect(handledFailures("Completed", counts)).toBe(18);
    expect(handledFailures("Failed", counts)).toBe(0);
    expect(handledFailures("Running", counts)).toBe(0);
    expect(handledFailures("Completed", { ...counts, failed: 0, crashed: 0 })).toBe(0);
    expect(handledFailures(undefined, undefined)).toBe(0);
  });

  it("orders task runs by start for the table, and filters them by task, state, worker and words", () => {
    const run = fold([
      { ...taskEvent("f", "b", "Running", 20), definition: "load", worker: "thread 2" },
      { ...taskEvent("f", "a", "Running", 10), definition: "extract", worker: "thread 1" },
      { ...taskEvent("f", "c", "Running", 20), definition: "load", worker: "thread 1" },
      { ...taskEvent("f", "a", "Completed", 30), definition: "extract", worker: "thread 1" },
      {
        ...taskEvent("f", "b", "Failed", 40, { name: "RowError", message: "row 7 does not parse" }),
        definition: "load",
        worker: "thread 2",
      },
    ]);
    const rows = taskRunRows(run);
    expect(rows.map((row) => row.id)).toEqual(["a", "b", "c"]);
    const ids = (filter: Parameters<typeof filterTaskRuns>[1]) =>
      filterTaskRuns(rows, filter).map((row) => row.id);
    expect(ids({})).toEqual(["a", "b", "c"]);
    expect(ids({ definition: "load" })).toEqual(["b", "c"]);
    expect(ids({ state: "Failed" })).toEqual(["b"]);
    expect(ids({ worker: "thread 1" })).toEqual(["a", "c"]);
    expect(ids({ definition: "load", worker: "thread 1" })).toEqual(["c"]);
    expect(ids({ search: "rowerror" })).toEqual(["b"]);
    expect(ids({ search: "  ROW 7  parse" })).toEqual(["b"]);
    expect(ids({ search: "c-name" })).toEqual(["c"]);
    expect(ids({ search: "nothing-like-it" })).toEqual([]);
  });

  it("counts each task's runs by kind of state, and how many are done, in the order the tasks first ran", () => {
    const run = fold([
      { ...taskEvent("f", "a", "Running", 10), definition: "extract" },
      { ...taskEvent("f", "b", "Running", 20), definition: "load" },
      { ...taskEvent("f", "c", "Pending", 25), definition: "extract" },
      { ...taskEvent("f", "a", "Completed", 30), definition: "extract" },
      { ...taskEvent("f", "b", "Crashed", 40), definition: "load" },
    ]);
    expect(progressByTask(run)).toEqual([
      {
        name: "extract",
        total: 2,
        done: 1,
        counts: { pending: 1, running: 0, completed: 1, failed: 0, crashed: 0, cancelled: 0 },
      },
      {
        name: "load",
        total: 1,
        done: 1,
        counts: { pending: 0, running: 0, completed: 0, failed: 0, crashed: 1, cancelled: 0 },
      },
    ]);
  });

  it("attributes log lines and prints to their task run, else to the flow run", () => {
    const run = fold([
      flowEvent("f", "Running", 0),
      taskEvent("f", "a", "Running", 1),
      { kind: "print", time: 2, stream: "stdout", text: "hello", taskRunId: "a" },
      { kind: "log", time: 3, level: "INFO", message: "hi", taskRunId: "a", taskRunName: "load-7" },
      { ...flowEvent("sub", "Running", 4), name: "quiet-yak", flowRunId: "f" },
      { kind: "log", time: 5, level: "INFO", message: "sub started", flowRunId: "sub" },
      { kind: "log", time: 6, level: "INFO", message: "done", flowRunId: "f" },
    ]);
    expect(run.logs.map((log) => [attribution(run, log), log.level, log.message])).toEqual([
      ["a-name", "STDOUT", "hello"],
      ["load-7", "INFO", "hi"],
      ["quiet-yak", "INFO", "sub started"],
      ["calm-heron", "INFO", "done"],
    ]);
  });

  it("names a run from later lines when its first ones did not (a bucket's record names the flow at its end)", () => {
    const run = fold([
      { ...flowEvent("f", "Running", 0), name: "", definition: "" },
      { ...flowEvent("f", "Completed", 9), name: "calm-heron", definition: "nightly" },
    ]);
    expect(ownFlowRun(run)).toMatchObject({ name: "calm-heron", definition: "nightly", state: "Completed" });
  });
});
