// `squall dashboard` in a real browser: a flow runs its tasks on the embedded Lambda
// environment while the run is recorded; Chromium opens the dashboard, picks the run and watches
// its tasks finish without a reload. Takes a screenshot; with SQUALL_SCREENSHOT=1 it replaces
// docs/dashboard.png, the README's picture (a plain run leaves the work tree as it was).
// Skipped, saying why, where Debian's Chromium is not installed (`apt-get install chromium`).
//
//   npx vitest run --project e2e
//   SQUALL_SCREENSHOT=1 npx vitest run --project e2e   # refreshes docs/dashboard.png and docs/dashboard-100k*.png
import { appendFileSync, copyFileSync, existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";
import { configureLogging, type FlowRunState, flow, resetLogging } from "squall";
import { LambdaTaskRunner } from "squall/aws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Dashboard, startDashboard } from "../../sdk/cli/dashboard/index.js";
import { type Recording, startRecording } from "../../sdk/cli/recorder.js";
import { age, bottle, brew, taste } from "../fixtures/dashboard-tasks.js";
import { syntheticLines, writeSyntheticRun } from "../fixtures/synthetic-run.js";

const CHROMIUM = "/usr/bin/chromium";
const SCREENSHOT = fileURLToPath(new URL("../../docs/dashboard.png", import.meta.url));
/** Where SQUALL_SCREENSHOT=1 puts the README's pictures of a 100,000-task run. */
const DOCS = fileURLToPath(new URL("../../docs/", import.meta.url));

const noChromium = existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is missing`;
if (noChromium) {
  console.warn(
    `test/e2e/dashboard.test.ts skipped: it drives Debian's Chromium (apt-get install chromium); ${noChromium}.`,
  );
}

/** Four brews, each aged, bottled in pairs: ten task runs that complete, and one tasting that fails. */
const brewery = flow(
  { taskRunner: new LambdaTaskRunner({ tasksPerMessage: 1 }) },
  async function brewery(beers: string[]) {
    const aged = beers.map((beer, i) => age.submit(brew.submit(beer, 1000 + 200 * i), 600 + 200 * i));
    const bottled = [bottle.submit(aged.slice(0, 2), 700), bottle.submit(aged.slice(2), 900)];
    // Its failure is shown on the dashboard; the flow handles it, so the flow completes.
    await taste.submit("lager", 800).result({ raiseOnFailure: false });
    return bottled;
  },
);

describe.skipIf(noChromium !== undefined)("squall dashboard in Chromium", () => {
  let dir: string;
  let browser: Browser;
  let dashboard: Dashboard | undefined;
  let recording: Recording | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "squall-dashboard-"));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    });
  });
  afterAll(async () => {
    await recording?.stop();
    resetLogging();
    await dashboard?.stop();
    await browser?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("follows a flow run on the Lambda runner live, from its first task bars to its last count", async () => {
    const root = join(dir, ".squall");
    configureLogging({ write: () => {} }); // the run's log lines go to its record, not the test's output
    recording = startRecording({ root });
    dashboard = await startDashboard({ root });
    const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    await page.goto(dashboard.url);
    // A mark on this document: a reload would lose it.
    await page.evaluate(() => {
      (globalThis as unknown as { sameDocument: boolean }).sameDocument = true;
    });

    let ended = false;
    const running = brewery.run(["pale ale", "stout", "porter", "saison"]).finally(() => {
      ended = true;
    });

    // The run shows up in the list, and its view opens on a click.
    await page.getByTestId("run-item").first().click({ timeout: 20_000 });
    await page.getByTestId("task-bar").first().waitFor({ timeout: 20_000 });
    const completed = page.getByTestId("count-Completed").getByTestId("count-value");
    const completedWhileLive = Number(await completed.textContent());
    // The page got here while the flow was still running: what follows arrived live.
    expect(ended).toBe(false);
    expect(completedWhileLive).toBeLessThan(10);

    // Then, with no reload, the counts and the run's state follow it to its end.
    await completed.filter({ hasText: /^10$/ }).waitFor({ timeout: 40_000 });
    await page.locator('[data-testid="run-state"][data-state="Completed"]').waitFor({ timeout: 5_000 });
    const state: FlowRunState<unknown> = await running;
    expect(state.type).toBe("COMPLETED");

    // No reload: the document the test marked is still the one on screen.
    expect(await page.evaluate(() => (globalThis as { sameDocument?: boolean }).sameDocument)).toBe(true);
    expect(await page.getByTestId("count-Failed").getByTestId("count-value").textContent()).toBe("1");
    expect(await page.getByTestId("task-bar").count()).toBe(11);
    expect(await page.locator('[data-testid="task-bar"][data-state="Completed"]').count()).toBe(10);
    // Lanes by the Lambda execution environment that ran each task run; runs that overlapped
    // on one environment sit on separate lanes of it.
    const lanes = page.getByTestId("lane");
    expect(await lanes.count()).toBeGreaterThan(1);
    const labels = (await lanes.locator(".lane-label").allTextContents()).filter(Boolean);
    expect(labels.length).toBeGreaterThan(0);
    for (const label of labels) expect(label).toMatch(/^λ [0-9a-f]{8}$/);
    expect(await lanes.first().getAttribute("data-worker")).toMatch(
      /^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32}$/,
    );
    // The table names a Lambda worker as its lane does, and filters by it.
    const rows = page.getByTestId("task-row");
    expect(await rows.count()).toBe(11);
    const worker = rows.first().locator("span[title]").first();
    expect(await worker.textContent()).toMatch(/^λ [0-9a-f]{8}$/);
    const fullName = (await worker.getAttribute("title")) ?? "";
    expect(fullName).toMatch(/^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32}$/);
    await page.getByTestId("task-filter-worker").selectOption(fullName);
    const onIt = await page.getByTestId("task-shown").textContent();
    expect(onIt).toMatch(/^\d+ of 11 task runs$/);
    await page.getByTestId("task-filter-worker").selectOption("");
    const failure = page.getByTestId("failure");
    expect(await failure.count()).toBe(1);
    expect(await failure.getByTestId("failure-error").textContent()).toBe(
      "SpoiledBatchError: the lager tastes of vinegar",
    );
    expect(await page.getByTestId("logs").textContent()).toContain("bottled aged pale ale and aged stout");
    await page.locator('[data-testid="run-item"][data-state="Completed"]').waitFor({ timeout: 5_000 });

    const copy = join(dir, "dashboard.png");
    await page.screenshot({ path: copy, fullPage: true });
    expect(statSync(copy).size).toBeGreaterThan(0);
    if (process.env.SQUALL_SCREENSHOT === "1") copyFileSync(copy, SCREENSHOT);
  });
});

/** Chromium with the flags the tests above use. */
function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
  });
}

describe.skipIf(noChromium !== undefined)("the dashboard on many runs and big runs", () => {
  let dir: string;
  let root: string;
  let browser: Browser;
  let dashboard: Dashboard;
  /** Run ids, newest first. */
  const ids = Array.from({ length: 55 }, (_, i) => `run-${String(55 - i).padStart(2, "0")}`);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "squall-dashboard-many-"));
    root = join(dir, ".squall");
    ids.forEach((id, i) => {
      writeSyntheticRun(root, {
        id,
        startedAt: Date.UTC(2026, 11, 1, 9) - i * 60_000,
        tasks: id === "run-55" ? 30 : 3,
        failed: id === "run-55" ? 18 : 0,
      });
    });
    dashboard = await startDashboard({ root });
    browser = await launch();
  });
  afterAll(async () => {
    await dashboard?.stop();
    await browser?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("has the run list drawn when the page signals load, so a plain screenshot shows it", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    // A slow link: every request answered 250 ms late, so nothing fetched after the page's
    // scripts have run can be there by `load` by luck.
    await page.route("**/*", async (route) => {
      await new Promise((resolve) => setTimeout(resolve, 250));
      await route.continue();
    });
    await page.goto(dashboard.url, { waitUntil: "load" });
    // No waiting for anything: what the page shows at `load` is what a screenshot captures.
    const shot = await page.screenshot();
    expect(shot.length).toBeGreaterThan(0);
    expect(await page.getByTestId("run-item").count()).toBe(20);
    expect(await page.getByTestId("root").textContent()).toBe(".squall");
    expect(await page.getAttribute("html", "data-ready")).toBe("true");
    await page.close();
  });

  it("pages the run list, twenty runs a page, and opens on the page of the run in the address", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(dashboard.url);
    const pageInfo = page.getByTestId("run-page");
    expect(await pageInfo.textContent()).toBe("1–20 of 55");
    expect(await page.getByTestId("newer-runs").isDisabled()).toBe(true);
    await page.getByTestId("older-runs").click();
    expect(await pageInfo.textContent()).toBe("21–40 of 55");
    expect(await page.getByTestId("run-item").first().getAttribute("data-run-id")).toBe(ids[20]);
    await page.getByTestId("older-runs").click();
    expect(await pageInfo.textContent()).toBe("41–55 of 55");
    expect(await page.getByTestId("run-item").count()).toBe(15);
    expect(await page.getByTestId("older-runs").isDisabled()).toBe(true);
    // The page stays about a screen high, whatever the number of runs.
    expect(
      await page.evaluate(
        () =>
          (globalThis as unknown as { document: { documentElement: { scrollHeight: number } } }).document
            .documentElement.scrollHeight,
      ),
    ).toBeLessThanOrEqual(1600);

    await page.goto(`${dashboard.url}#/runs/${ids[45]}`);
    await page.locator('html[data-ready="true"]').waitFor();
    expect(await pageInfo.textContent()).toBe("41–55 of 55");
    expect(
      await page.locator('[data-testid="run-item"][aria-current="page"]').getAttribute("data-run-id"),
    ).toBe(ids[45]);
    await page.close();
  });

  it("marks a completed run that handled failed task runs, in the list and in its view", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(dashboard.url);
    const handled = page
      .locator('[data-testid="run-item"][data-run-id="run-55"]')
      .getByTestId("run-item-state");
    expect(await handled.textContent()).toBe("Completed · 18 failed, handled");
    expect(await handled.getAttribute("class")).toBe("badge handled");
    const clean = page
      .locator('[data-testid="run-item"][data-run-id="run-54"]')
      .getByTestId("run-item-state");
    expect(await clean.textContent()).toBe("Completed");
    expect(await clean.getAttribute("class")).toBe("badge completed");

    await page.goto(`${dashboard.url}#/runs/run-55`);
    await page.locator('html[data-ready="true"]').waitFor();
    const state = page.getByTestId("run-state");
    expect(await state.textContent()).toBe("Completed · 18 failed, handled");
    expect(await state.getAttribute("data-handled")).toBe("18");
    await page.close();
  });
});

describe.skipIf(noChromium !== undefined)("the dashboard on a run of 100,000 task runs", () => {
  let dir: string;
  let browser: Browser;
  let dashboard: Dashboard;
  let page: Page;
  const big = { id: "big-run", name: "hundred-thousand", tasks: 100_000, failed: 18 };
  /** Per task, its runs and its failed runs, as the fixture wrote them. */
  const expected = new Map<string, { total: number; failed: number }>();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "squall-dashboard-big-"));
    const root = join(dir, ".squall");
    writeSyntheticRun(root, big);
    writeSyntheticRun(root, { id: "failing-run", tasks: 100, failed: 60, startedAt: Date.UTC(2026, 10, 1) });
    for (const line of syntheticLines(big) as { kind: string; definition: string; state: string }[]) {
      if (line.kind !== "task") continue;
      const entry = expected.get(line.definition) ?? { total: 0, failed: 0 };
      entry.total += 1;
      if (line.state === "Failed") entry.failed += 1;
      expected.set(line.definition, entry);
    }
    // Three seconds of an environment starting, then thirty task runs at once on one worker.
    const t0 = Date.UTC(2026, 11, 1, 8);
    const flowLine = { kind: "flow", id: "wide-run", name: "wide", definition: "fan", flowRunId: undefined };
    const lines: object[] = [{ ...flowLine, state: "Running", time: t0 }];
    for (let i = 0; i < 30; i++) {
      lines.push({
        kind: "task",
        id: `w${i}`,
        name: `fan-${i}`,
        definition: "fan",
        flowRunId: "wide-run",
        state: "Completed",
        time: t0 + 4_000,
        attempts: 1,
        worker: "in process",
        startedAt: t0 + 3_000 + i * 10,
        endedAt: t0 + 3_800 + i * 10,
      });
    }
    lines.push({ ...flowLine, state: "Completed", time: t0 + 4_100 });
    mkdirSync(join(root, "runs", "wide-run"), { recursive: true });
    writeFileSync(
      join(root, "runs", "wide-run", "events.jsonl"),
      lines.map((line) => `${JSON.stringify(line)}\n`).join(""),
    );
    dashboard = await startDashboard({ root });
    browser = await launch();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${dashboard.url}#/runs/big-run`);
    await page.locator('html[data-ready="true"]').waitFor({ timeout: 60_000 });
  }, 120_000);
  afterAll(async () => {
    await dashboard?.stop();
    await browser?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("lists every task run in a table that keeps only the rows in sight in the page", async () => {
    const table = page.getByTestId("task-table");
    expect(await page.getByTestId("task-shown").textContent()).toBe("100,000 task runs");
    expect(await page.getByTestId("count-Completed").getByTestId("count-value").textContent()).toBe("99,982");
    const drawn = await page.getByTestId("task-row").count();
    expect(drawn).toBeGreaterThan(10);
    expect(drawn).toBeLessThan(60);
    expect(await page.getByTestId("task-row").first().getAttribute("data-task-run-id")).toBe("t0");
    // 100,000 rows of 28 px: the table scrolls the whole way, drawing the rows at its end.
    expect(await table.evaluate((element) => element.scrollHeight)).toBe(2_800_000);
    await table.evaluate((element) => {
      element.scrollTop = element.scrollHeight;
    });
    // The last task run to start, as the table orders them (by start, then id).
    const tasks = (syntheticLines(big) as { kind: string; id: string; startedAt: number }[]).filter(
      (line) => line.kind === "task",
    );
    tasks.sort((a, b) => a.startedAt - b.startedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const last = tasks.at(-1)?.id;
    await page.locator(`[data-testid="task-row"][data-task-run-id="${last}"]`).waitFor({ timeout: 5_000 });
    expect(await page.getByTestId("task-row").count()).toBeLessThan(60);
    await table.evaluate((element) => {
      element.scrollTop = 0;
    });
  });

  it("filters the table by task, state and worker, and searches it", async () => {
    const shown = page.getByTestId("task-shown");
    await page.getByTestId("task-filter-task").selectOption("load");
    expect(await shown.textContent()).toBe("33,333 of 100,000 task runs");
    expect(await page.getByTestId("task-row").first().getAttribute("data-task-run-id")).toBe("t2");
    await page.getByTestId("task-filter-task").selectOption("");
    await page.getByTestId("task-filter-state").selectOption("Failed");
    expect(await shown.textContent()).toBe("18 of 100,000 task runs");
    expect(await page.getByTestId("task-row").count()).toBe(18);
    for (const state of await page
      .getByTestId("task-row")
      .evaluateAll((rows) => rows.map((row) => row.getAttribute("data-state")))) {
      expect(state).toBe("Failed");
    }
    await page.getByTestId("task-filter-state").selectOption("");
    await page.getByTestId("task-filter-worker").selectOption("thread 3");
    expect(await shown.textContent()).toBe("12,500 of 100,000 task runs");
    await page.getByTestId("task-filter-worker").selectOption("");
    await page.getByTestId("task-search").fill("load-99998");
    expect(await shown.textContent()).toBe("1 of 100,000 task runs");
    expect(await page.getByTestId("task-row").getAttribute("data-task-run-id")).toBe("t99998");
    await page.getByTestId("task-search").fill("rowerror");
    expect(await shown.textContent()).toBe("18 of 100,000 task runs");
    await page.getByTestId("task-search").fill("");
    expect(await shown.textContent()).toBe("100,000 task runs");
  });

  it("shows each task's progress, and a click on it filters the table to that task", async () => {
    const rows = page.getByTestId("progress-row");
    expect(await rows.evaluateAll((all) => all.map((row) => row.getAttribute("data-task")))).toEqual([
      "extract",
      "transform",
      "load",
    ]);
    for (const [name, { total, failed }] of expected) {
      const n = (x: number) => x.toLocaleString("en-US");
      expect(
        await page
          .locator(`[data-testid="progress-row"][data-task="${name}"]`)
          .getByTestId("progress-done")
          .textContent(),
      ).toBe(`${n(total)} / ${n(total)}${failed > 0 ? ` · ${n(failed)} failed` : ""}`);
    }
    await page.locator('[data-testid="progress-row"][data-task="transform"]').click();
    expect(await page.getByTestId("task-filter-task").inputValue()).toBe("transform");
    expect(await page.getByTestId("task-shown").textContent()).toBe("33,333 of 100,000 task runs");
    await page.getByTestId("task-filter-task").selectOption("");
  });

  it("draws the whole run's timeline on canvases, and single bars once zoomed in; pans and resets", async () => {
    expect(await page.getByTestId("lane").count()).toBe(8);
    expect(await page.getByTestId("lane-canvas").count()).toBe(8);
    expect(await page.getByTestId("task-bar").count()).toBe(0);
    expect(await page.getByTestId("timeline-hint").textContent()).toContain(
      "100,000 task runs in view: zoom in to see each one.",
    );
    expect(await page.getByTestId("tick").first().textContent()).toBe("0");
    if (process.env.SQUALL_SCREENSHOT === "1") {
      await page
        .getByTestId("run-title")
        .evaluate((title) => title.ownerDocument.documentElement.scrollTo(0, 0));
      await page.screenshot({ path: join(DOCS, "dashboard-100k.png") });
    }
    for (let i = 0; i < 9; i++) await page.getByTestId("timeline-zoom-in").click();
    const bars = page.getByTestId("task-bar");
    const count = await bars.count();
    expect(count).toBeGreaterThan(0);
    expect(count).toBeLessThanOrEqual(1500);
    expect(await page.getByTestId("lane-canvas").count()).toBe(0);
    // Each click halves the span around its middle: the whole run becomes about a second of it.
    const shownSpan = page.getByTestId("timeline-window");
    expect(await shownSpan.textContent()).toBe("268.23 s to 269.27 s of 8 min 58 s");
    const firstBefore = await bars.first().getAttribute("data-task-run-id");
    await page.getByTestId("timeline-pan-right").click();
    expect(await shownSpan.textContent()).toBe("268.75 s to 269.80 s of 8 min 58 s");
    expect(await bars.first().getAttribute("data-task-run-id")).not.toBe(firstBefore);
    // Dragging to the right goes back in time.
    const axis = await page.getByTestId("timeline-axis").boundingBox();
    if (!axis) throw new Error("the timeline has no axis on screen");
    await page.mouse.move(axis.x + axis.width * 0.25, axis.y + 40);
    await page.mouse.down();
    await page.mouse.move(axis.x + axis.width * 0.75, axis.y + 40, { steps: 5 });
    await page.mouse.up();
    expect(await shownSpan.textContent()).toBe("268.23 s to 269.27 s of 8 min 58 s");
    // Ticks in seconds after the first task run, to the tenth a 200 ms step needs.
    expect(await page.getByTestId("tick").allTextContents()).toEqual([
      "268.4 s",
      "268.6 s",
      "268.8 s",
      "269.0 s",
      "269.2 s",
    ]);
    if (process.env.SQUALL_SCREENSHOT === "1") {
      await page.getByTestId("task-filter-state").selectOption("Failed");
      await page.getByTestId("timeline-hint").evaluate((hint) => hint.parentElement?.scrollIntoView());
      await page.screenshot({ path: join(DOCS, "dashboard-100k-zoomed.png") });
      await page.getByTestId("task-filter-state").selectOption("");
    }
    await page.getByTestId("timeline-reset").click();
    expect(await page.getByTestId("lane-canvas").count()).toBe(8);
    expect(await page.getByTestId("timeline-window").textContent()).toMatch(
      / from the first task run to the last$/,
    );
    // Ctrl + wheel zooms around the pointer: at the axis's left end, the view keeps its start.
    const whole = await page.getByTestId("timeline-axis").boundingBox();
    if (!whole) throw new Error("the timeline has no axis on screen");
    await page.mouse.move(whole.x + 1, whole.y + 40);
    await page.keyboard.down("Control");
    await page.mouse.wheel(0, -100);
    await page.keyboard.up("Control");
    await page
      .getByTestId("timeline-window")
      .filter({ hasText: /^0 s to 43\d s of 8 min 58 s$/ })
      .waitFor({
        timeout: 5_000,
      });
    await page.getByTestId("timeline-reset").click();
  });

  it("lists fifty failures and says how many more there are; shows no pager for a short list", async () => {
    await page.goto(`${dashboard.url}#/runs/failing-run`);
    await page.locator('[data-testid="run-title"]', { hasText: "etl · failing-run" }).waitFor();
    expect(await page.getByTestId("failure").count()).toBe(50);
    expect(await page.getByTestId("failures-more").textContent()).toBe(
      "and 10 more: the task-run table lists them by state",
    );
    // Nothing else in the list: no stray text beside the items.
    expect(await page.getByTestId("failures").evaluate((list) => list.childNodes.length)).toBe(51);
    expect(await page.getByTestId("run-item").count()).toBe(3);
    expect(await page.getByTestId("run-pager").isVisible()).toBe(false);
  });

  it("starts the axis at the first task run, and labels each of thirty lanes of one worker", async () => {
    await page.goto(`${dashboard.url}#/runs/wide-run`);
    await page.locator('[data-testid="run-title"]', { hasText: "fan · wide" }).waitFor();
    // Three seconds passed before the first task: the bars start at the axis's left, not at 75%.
    const first = page.locator('[data-testid="task-bar"][data-task-run-id="w0"]');
    expect(await first.getAttribute("style")).toMatch(/^left: 0(\.0+)?%; width: /);
    expect(await page.getByTestId("timeline-window").textContent()).toBe(
      "1.09 s from the first task run to the last",
    );
    // No failures: an empty, hidden list, with nothing in it.
    expect(await page.getByTestId("failures").evaluate((list) => list.childNodes.length)).toBe(0);
    expect(await page.getByTestId("failures-section").isVisible()).toBe(false);
    const lanes = page.getByTestId("lane");
    expect(await lanes.count()).toBe(30);
    const labels = await lanes.evaluateAll((all) =>
      all.map((lane) => lane.querySelector(".lane-label, .lane-sub")?.textContent),
    );
    expect(labels).toEqual(["in process", ...Array.from({ length: 29 }, (_, i) => `· ${i + 2}`)]);
    for (const box of await lanes.evaluateAll((all) =>
      all.map((lane) => lane.getBoundingClientRect().height),
    )) {
      expect(box).toBeGreaterThanOrEqual(20);
    }
  });
});

describe.skipIf(noChromium !== undefined)("the dashboard on a big run while it goes on", () => {
  it("keeps up with a live run of thousands of task runs, drawing what arrives", async () => {
    const dir = await mkdtemp(join(tmpdir(), "squall-dashboard-live-big-"));
    const root = join(dir, ".squall");
    const browser = await launch();
    const dashboard = await startDashboard({ root, pollMs: 100 });
    try {
      // A run of 7,000 task runs: the first 6,000 recorded, the flow still running.
      const lines = syntheticLines({ id: "live-big", tasks: 7_000 });
      const flowEnd = lines.pop(); // the flow's final line: not yet
      expect(flowEnd).toMatchObject({ kind: "flow", state: "Completed" });
      const file = join(root, "runs", "live-big", "events.jsonl");
      mkdirSync(join(root, "runs", "live-big"), { recursive: true });
      const text = (part: object[]) => part.map((line) => `${JSON.stringify(line)}\n`).join("");
      writeFileSync(file, text(lines.slice(0, 2 + 6_000)));
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await page.goto(`${dashboard.url}#/runs/live-big`);
      await page.locator('html[data-ready="true"]').waitFor({ timeout: 30_000 });
      const completed = page.getByTestId("count-Completed").getByTestId("count-value");
      expect(await completed.textContent()).toBe("6,000");
      appendFileSync(file, text(lines.slice(2 + 6_000)));
      await completed.filter({ hasText: /^7,000$/ }).waitFor({ timeout: 10_000 });
      await page
        .getByTestId("task-shown")
        .filter({ hasText: /^7,000 task runs$/ })
        .waitFor({ timeout: 5_000 });
      expect(await page.getByTestId("run-state").textContent()).toBe("Running");
    } finally {
      await dashboard.stop();
      await browser.close();
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
