// The dashboard page: the run list (polled), and one run's view, kept live by the server's
// event stream while the run goes on. Text from runs (names, messages, stacks) is only ever set
// as textContent, never parsed as HTML.
import {
  applyLine,
  attribution,
  countByKind,
  countByState,
  createRun,
  failures,
  handledFailures,
  isFinal,
  kindOf,
  ownFlowRun,
  STATES,
  timeline,
} from "./model.js";

const LIST_POLL_MS = 1000;
/** While a run is live its running bars grow; the view is drawn again this often. */
const TICK_MS = 500;
/** The newest log lines shown; older ones stay in the record. */
const MAX_LOGS = 1000;
/** Counts shown even at zero; other states appear when a task run is in them. */
const ALWAYS_COUNTED = new Set(["Pending", "Running", "Completed", "Failed"]);
const PLACEHOLDER = "Pick a flow run to see its task runs, timeline, failures and logs.";

/** The element with `data-testid`. */
const byTestId = (id) => document.querySelector(`[data-testid="${id}"]`);

/** Makes an element: `h("span.badge", { testid: "x", data: { state } }, "text", child)`. */
function h(tagAndClasses, attributes = {}, ...children) {
  const [tag, ...classes] = tagAndClasses.split(".");
  const element = document.createElement(tag);
  if (classes.length > 0) element.className = classes.join(" ");
  const { testid, data, title, ...rest } = attributes;
  if (testid) element.dataset.testid = testid;
  if (title) element.title = title;
  for (const [key, value] of Object.entries(data ?? {})) {
    if (value !== undefined) element.dataset[key] = String(value);
  }
  for (const [key, value] of Object.entries(rest)) {
    if (value !== undefined) element.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child !== undefined && child !== null && child !== false) element.append(child);
  }
  return element;
}

/**
 * A state's badge. A completed flow run some of whose task runs failed says so, in its own
 * colour: "Completed · 18 failed, handled", not a plain green.
 */
function badge(state, testid, counts) {
  const handled = handledFailures(state, counts);
  if (handled > 0) {
    return h(
      "span.badge.handled",
      {
        testid,
        data: { state, handled },
        title: `The flow completed; it handled ${handled} failed task run${handled === 1 ? "" : "s"}`,
      },
      `${state} · ${handled} failed, handled`,
    );
  }
  return h(`span.badge.${kindOf(state ?? "Pending")}`, { testid, data: { state } }, state ?? "Unknown");
}

function formatDuration(ms) {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 60) return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

function formatTime(time, withMs = false) {
  const date = new Date(time);
  const clock = date.toLocaleTimeString([], { hour12: false });
  return withMs ? `${clock}.${String(date.getMilliseconds()).padStart(3, "0")}` : clock;
}

function formatStart(time) {
  if (time === undefined) return "not started";
  const date = new Date(time);
  const today = new Date().toDateString() === date.toDateString();
  return today ? formatTime(time) : `${date.toLocaleDateString()} ${formatTime(time)}`;
}

async function getJson(path) {
  const response = await fetch(path, { cache: "no-store" });
  if (!response.ok) throw new Error(`${path} answered ${response.status}`);
  return response.json();
}

function setConnection(message) {
  const element = byTestId("connection");
  element.hidden = message === undefined;
  element.textContent = message ?? "";
}

// ---- the run list ----------------------------------------------------------------------------

let summaries = [];
/** Runs on one page of the list: a long history does not make a long page. */
const RUNS_PER_PAGE = 20;
/** The page of the list on screen, from 0 (the newest runs). */
let listPage = 0;

function takeList({ root, runs }) {
  summaries = runs;
  byTestId("root").textContent = root;
  renderList();
}

async function refreshList() {
  try {
    takeList(await getJson("/api/runs"));
    if (!view?.source) setConnection(undefined);
  } catch {
    setConnection("Cannot reach the dashboard server; trying again…");
  }
}

/** The list's items by run id, with what they show: an item is made again only when that changed. */
const listItems = new Map();

function pageCount() {
  return Math.max(1, Math.ceil(summaries.length / RUNS_PER_PAGE));
}

/** Shows the page of the list that holds run `id`, if it is listed. */
function showPageOf(id) {
  const index = summaries.findIndex((run) => run.id === id);
  if (index >= 0) listPage = Math.floor(index / RUNS_PER_PAGE);
}

/**
 * Draws the run list's page, keeping the elements of runs whose entry did not change: an element
 * replaced under the pointer between press and release would swallow the click.
 */
function renderList() {
  const list = byTestId("run-list");
  const selected = view?.id;
  listPage = Math.min(listPage, pageCount() - 1);
  const first = listPage * RUNS_PER_PAGE;
  const shown = summaries.slice(first, first + RUNS_PER_PAGE);
  const elements = shown.map((run) => {
    const key = JSON.stringify([run, run.id === selected]);
    const kept = listItems.get(run.id);
    if (kept?.key === key) return kept.element;
    const element = runItem(run, run.id === selected);
    listItems.set(run.id, { key, element });
    if (kept?.element.isConnected) kept.element.replaceWith(element);
    return element;
  });
  const inOrder =
    elements.length === list.children.length && elements.every((e, i) => list.children[i] === e);
  if (!inOrder) list.replaceChildren(...elements);
  byTestId("no-runs").hidden = summaries.length > 0;
  byTestId("run-pager").hidden = summaries.length <= RUNS_PER_PAGE;
  byTestId("run-page").textContent = `${first + 1}–${first + shown.length} of ${summaries.length}`;
  byTestId("newer-runs").disabled = listPage === 0;
  byTestId("older-runs").disabled = listPage >= pageCount() - 1;
}

byTestId("newer-runs").addEventListener("click", () => {
  listPage = Math.max(0, listPage - 1);
  renderList();
});
byTestId("older-runs").addEventListener("click", () => {
  listPage = Math.min(pageCount() - 1, listPage + 1);
  renderList();
});

function runItem(run, selected) {
  const taskRuns = Object.values(run.counts).reduce((sum, n) => sum + n, 0);
  const counts = Object.entries(run.counts)
    .filter(([, n]) => n > 0)
    .map(([kind, n]) => `${n} ${kind}`)
    .join(", ");
  return h(
    "li",
    {},
    h(
      "a.run-item",
      {
        href: `#/runs/${encodeURIComponent(run.id)}`,
        testid: "run-item",
        data: { runId: run.id, state: run.state },
        "aria-current": selected ? "page" : undefined,
      },
      h(
        "span.run-item-head",
        {},
        h("span.flow-name", {}, run.flowName || run.id),
        badge(run.state, "run-item-state", run.counts),
      ),
      h("span.run-name", {}, run.name || run.id),
      h(
        "span.run-item-facts",
        {},
        `${formatStart(run.startedAt)} · ${taskRuns} task run${taskRuns === 1 ? "" : "s"}`,
      ),
      counts && h("span.run-item-counts", {}, counts),
    ),
  );
}

// ---- one run ---------------------------------------------------------------------------------

/** The run on screen: `{ id, model, source, tick }`. */
let view;
let drawQueued = false;

async function openRun(id) {
  closeRun();
  const opening = { id, model: createRun(id), source: undefined, tick: undefined };
  view = opening;
  showPageOf(id);
  renderList();
  let record;
  try {
    record = await getJson(`/api/runs/${encodeURIComponent(id)}`);
  } catch (error) {
    if (view === opening) {
      showMissing(id, error);
      markReady();
    }
    return;
  }
  if (view !== opening) return; // another run was picked meanwhile
  for (const line of record.events) applyLine(opening.model, line);
  if (!isFinal(ownFlowRun(opening.model)?.state)) follow(opening, record.offset);
  draw();
  markReady();
}

/** Says the page shows what it was opened on: `<html data-ready="true">`. */
function markReady() {
  document.documentElement.dataset.ready = "true";
}

/** Follows the run's new lines from `offset` until the server says it has ended. */
function follow(opened, offset) {
  const source = new EventSource(`/api/runs/${encodeURIComponent(opened.id)}/events?from=${offset}`);
  opened.source = source;
  source.onmessage = (event) => {
    applyLine(opened.model, JSON.parse(event.data));
    opened.stale = true;
    drawSoon();
  };
  source.addEventListener("end", () => {
    stopFollowing(opened);
    opened.stale = true;
    drawSoon();
    refreshList();
  });
  // EventSource reconnects by itself, resuming after the last line it received.
  source.onerror = () => setConnection("Lost the live stream; reconnecting…");
  source.onopen = () => setConnection(undefined);
  opened.tick = setInterval(drawSoon, TICK_MS);
}

function stopFollowing(opened) {
  opened.source?.close();
  opened.source = undefined;
  clearInterval(opened.tick);
  opened.tick = undefined;
}

function closeRun() {
  if (view) stopFollowing(view);
  view = undefined;
}

function showMissing(id, error) {
  byTestId("no-run-selected").hidden = false;
  byTestId("run-view").hidden = true;
  byTestId("placeholder").textContent = `Cannot show run ${id}: ${error.message}`;
}

function drawSoon() {
  if (drawQueued) return;
  drawQueued = true;
  requestAnimationFrame(() => {
    drawQueued = false;
    draw();
  });
}

function draw() {
  if (!view) {
    byTestId("run-view").hidden = true;
    byTestId("no-run-selected").hidden = false;
    byTestId("placeholder").textContent = PLACEHOLDER;
    return;
  }
  const { model } = view;
  const live = view.source !== undefined;
  const now = live ? Math.max(Date.now(), model.lastTime) : model.lastTime;
  byTestId("no-run-selected").hidden = true;
  byTestId("run-view").hidden = false;
  drawHead(model, now);
  drawTimeline(model, now); // live bars grow with the clock
  // The rest changes only with new lines: a tick with none leaves it be.
  if (view.stale === false) return;
  view.stale = false;
  if (live) syncSummary(model);
  drawCounts(model);
  drawFailures(model);
  drawLogs(model);
}

/** The open run's entry in the list follows the live stream, ahead of the list's next poll. */
function syncSummary(model) {
  const index = summaries.findIndex((summary) => summary.id === model.id);
  const flowRun = ownFlowRun(model);
  if (index < 0 || !flowRun) return;
  summaries[index] = { ...summaries[index], state: flowRun.state, counts: countByKind(model) };
  renderList();
}

function drawHead(model, now) {
  const flowRun = ownFlowRun(model);
  byTestId("run-title").textContent =
    `${flowRun?.definition ?? model.meta?.flowName ?? "flow"} · ${flowRun?.name ?? model.id}`;
  byTestId("run-state").replaceWith(badge(flowRun?.state, "run-state", countByKind(model)));
  const started = model.meta?.startedAt ?? flowRun?.firstSeen;
  const facts = [
    started === undefined ? undefined : `started ${formatStart(started)}`,
    started === undefined
      ? undefined
      : `${flowRun?.end === undefined ? "running for" : "took"} ${formatDuration((flowRun?.end ?? now) - started)}`,
    `${model.taskRuns.size} task run${model.taskRuns.size === 1 ? "" : "s"}`,
    model.meta?.runner && `runner ${model.meta.runner}`,
    model.meta?.file,
    `id ${model.id}`,
  ];
  byTestId("run-facts").textContent = facts.filter(Boolean).join(" · ");
}

function drawCounts(model) {
  const counts = countByState(model);
  byTestId("counts").replaceChildren(
    ...STATES.filter((state) => ALWAYS_COUNTED.has(state) || counts[state]).map((state) =>
      h(
        `li.count.${kindOf(state)}`,
        { testid: `count-${state}`, data: { state } },
        h("span.count-value", { testid: "count-value" }, String(counts[state] ?? 0)),
        h("span.count-label", {}, state),
      ),
    ),
  );
}

/** A step for the axis's ticks: about six of them, on round numbers. */
function tickStep(span) {
  const steps = [100, 200, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000];
  return steps.find((step) => span / step <= 6) ?? Math.ceil(span / 6 / 600_000) * 600_000;
}

/** `0`, `500 ms`, `1.5 s`, `2 min`: as few digits as the step needs. */
function tickLabel(t, step) {
  if (t === 0) return "0";
  if (step < 1000) return `${t} ms`;
  if (step < 60_000) return `${t / 1000} s`;
  return `${t / 60_000} min`;
}

/** Above this many lanes, the timeline's rows are thin. */
const DENSE_LANES = 24;

function drawTimeline(model, now) {
  const { bars, lanes, from, to } = timeline(model, now);
  const container = byTestId("timeline");
  const byWorker = bars.some((bar) => bar.taskRun.worker !== undefined);
  byTestId("timeline-hint").textContent =
    bars.length === 0
      ? "No task runs yet."
      : byWorker
        ? "Task runs by the worker that ran them; a worker running several at once has a lane for each."
        : "The record names no workers: task runs that overlap in time are on separate lanes, so the lanes show how many ran at once.";
  if (bars.length === 0) {
    container.replaceChildren();
    return;
  }
  const span = Math.max(to - from, 1);
  const at = (time) => `${(((time - from) / span) * 100).toFixed(3)}%`;
  const axis = h("div.axis", { "aria-hidden": "true" });
  const step = tickStep(span);
  const ticks = [];
  for (let t = 0; t <= span; t += step) {
    const tick = h("span.tick", {}, tickLabel(t, step));
    tick.style.left = at(from + t);
    axis.append(tick);
    ticks.push(at(from + t));
  }
  // Each lane has a line under each tick of the axis.
  const rows = lanes.map(() => {
    const track = h("div.lane-track", { testid: "lane-track" });
    for (const left of ticks) {
      const line = h("span.gridline", { "aria-hidden": "true" });
      line.style.left = left;
      track.append(line);
    }
    return track;
  });
  for (const bar of bars) {
    const { taskRun } = bar;
    const element = h(
      `div.bar.${kindOf(taskRun.state)}${bar.live ? ".live" : ""}`,
      {
        testid: "task-bar",
        data: { state: taskRun.state, taskRunId: taskRun.id },
        title: `${taskRun.name}: ${taskRun.state}, ${formatDuration(bar.end - bar.start)}${taskRun.attempts > 1 ? `, ${taskRun.attempts} attempts` : ""}`,
      },
      h("span.bar-label", {}, taskRun.name),
    );
    element.style.left = at(bar.start);
    element.style.width = `${(((bar.end - bar.start) / span) * 100).toFixed(3)}%`;
    rows[bar.lane].append(element);
  }
  // Many lanes (a fleet of workers, each running batches at once) get thin rows without labels.
  container.classList.toggle("dense", lanes.length > DENSE_LANES);
  container.replaceChildren(
    h("div.lane.axis-row", {}, h("span.lane-label", {}, ""), axis),
    ...lanes.map((lane, i) =>
      h(
        `div.lane${lane.first && i > 0 ? ".worker-start" : ""}`,
        { testid: "lane", data: { worker: lane.title || undefined } },
        h("span.lane-label", { title: lane.title || lane.label }, lane.label),
        rows[i],
      ),
    ),
  );
}

function drawFailures(model) {
  const failed = failures(model);
  byTestId("failures-section").hidden = failed.length === 0;
  byTestId("failures").replaceChildren(
    ...failed.map((run) =>
      h(
        "li.failure",
        { testid: "failure", data: { runId: run.id, kind: run.kind } },
        h(
          "div.failure-head",
          {},
          h("span.failure-name", {}, `${run.kind === "flow" ? "Flow run" : "Task run"} ${run.name}`),
          badge(run.state),
        ),
        h(
          "p.failure-error",
          { testid: "failure-error" },
          run.error ? `${run.error.name}: ${run.error.message}` : "No error recorded.",
        ),
        run.error?.stack &&
          h(
            "details",
            {},
            h("summary", {}, "Stack"),
            h("pre.stack", { testid: "failure-stack" }, run.error.stack),
          ),
      ),
    ),
  );
}

/** A message of several lines (a stack, a dump) shows its first line and opens to the rest. */
function logMessage(message) {
  const [first, ...rest] = message.split("\n");
  if (rest.length === 0) return message;
  return h("details", {}, h("summary", {}, first), rest.join("\n"));
}

function drawLogs(model) {
  const list = byTestId("logs");
  const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
  const shown = model.logs.slice(-MAX_LOGS);
  list.replaceChildren(
    ...shown.map((log) =>
      h(
        `li.log.level-${log.level.toLowerCase()}`,
        { testid: "log-line", data: { level: log.level } },
        h("span.log-time", {}, formatTime(log.time, true)),
        h("span.log-level", {}, log.level),
        h("span.log-who", {}, attribution(model, log)),
        h("span.log-message", {}, logMessage(log.message)),
      ),
    ),
  );
  byTestId("no-logs").hidden = model.logs.length > 0;
  if (atBottom) list.scrollTop = list.scrollHeight;
}

// ---- routing ---------------------------------------------------------------------------------

function route() {
  const match = /^#\/runs\/(.+)$/.exec(location.hash);
  const id = match ? decodeURIComponent(match[1]) : undefined;
  if (id === view?.id) return;
  if (id) openRun(id);
  else {
    closeRun();
    renderList();
    draw();
  }
}

window.addEventListener("hashchange", route);
// The list the server sent with the page (boot.js) is drawn now, before the page's load event;
// a page opened on a run marks itself ready (`data-ready` on <html>) once that run is drawn.
const boot = globalThis.squallBoot;
if (boot) takeList(boot);
else await refreshList();
route();
if (!view) markReady();
setInterval(refreshList, LIST_POLL_MS);
