// `squall dashboard` in a real browser: a flow runs its tasks on the embedded Lambda
// environment while the run is recorded; Chromium opens the dashboard, picks the run and watches
// its tasks finish without a reload. Takes a screenshot; with SQUALL_SCREENSHOT=1 it replaces
// docs/dashboard.png, the README's picture (a plain run leaves the work tree as it was).
// Skipped, saying why, where Debian's Chromium is not installed (`apt-get install chromium`).
//
//   npx vitest run --project e2e
//   SQUALL_SCREENSHOT=1 npx vitest run --project e2e   # refreshes docs/dashboard.png
import { copyFileSync, existsSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, chromium } from "playwright-core";
import { configureLogging, type FlowRunState, flow, resetLogging } from "squall";
import { LambdaTaskRunner } from "squall/aws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Dashboard, startDashboard } from "../../sdk/cli/dashboard/index.js";
import { type Recording, startRecording } from "../../sdk/cli/recorder.js";
import { age, bottle, brew, taste } from "../fixtures/dashboard-tasks.js";
import { writeSyntheticRun } from "../fixtures/synthetic-run.js";

const CHROMIUM = "/usr/bin/chromium";
const SCREENSHOT = fileURLToPath(new URL("../../docs/dashboard.png", import.meta.url));

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
