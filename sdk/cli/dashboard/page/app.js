// The dashboard page: the run list (polled, twenty runs a page), and one run's view, kept live by
// the server's event stream while the run goes on: counts, progress by task, the timeline (zoom
// and pan; drawn on canvases when too many bars are in view), the task-run table (only the rows
// in sight are in the page), failures and logs. Plain JavaScript with no build step. Text from
// runs (names, messages, stacks) is only ever set as textContent, never parsed as HTML.
import {
  applyLine,
  attribution,
  countByKind,
  countByState,
  createRun,
  failures,
  filterTaskRuns,
  handledFailures,
  isFinal,
  kindOf,
  ownFlowRun,
  progressByTask,
  STATES,
  taskRunRows,
  timeline,
  workerLabel,
} from "./model.js";

const LIST_POLL_MS = 1000;
/** While a run is live its running bars grow; the view is drawn again this often. */
const TICK_MS = 500;
/** A live run with more task runs than this is drawn again at most every BIG_RUN_DRAW_MS. */
const BIG_RUN = 5000;
const BIG_RUN_DRAW_MS = 1000;
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
    .map(([kind, n]) => `${number(n)} ${kind}`)
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
        `${formatStart(run.startedAt)} · ${number(taskRuns)} task run${taskRuns === 1 ? "" : "s"}`,
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
  resetTable();
  zoom = undefined;
  // Not ready again until this run is drawn.
  delete document.documentElement.dataset.ready;
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
  // A big live run is drawn again at most once a second: folding and sorting its task runs
  // every frame would leave no time for scrolling; the ticks bring what waited.
  if (live && model.taskRuns.size > BIG_RUN && performance.now() - (view.drawnAt ?? 0) < BIG_RUN_DRAW_MS) {
    return;
  }
  view.drawnAt = performance.now();
  drawTimeline(model, now); // live bars grow with the clock
  // The rest changes only with new lines: a tick with none leaves it be.
  if (view.stale === false) return;
  view.stale = false;
  if (live) syncSummary(model);
  drawCounts(model);
  drawProgress(model);
  takeTaskRuns(model);
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
    `${number(model.taskRuns.size)} task run${model.taskRuns.size === 1 ? "" : "s"}`,
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
        h("span.count-value", { testid: "count-value" }, number(counts[state] ?? 0)),
        h("span.count-label", {}, state),
      ),
    ),
  );
}

/** A step for the axis's ticks: about six of them, on round numbers. */
function tickStep(span) {
  const steps = [
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000,
    600_000,
  ];
  return steps.find((step) => span / step <= 6) ?? Math.ceil(span / 6 / 600_000) * 600_000;
}

/** `0`, `500 ms`, `1.5 s`, `268.4 s`, `2 min`: as few digits as the step needs. */
function tickLabel(t, step) {
  if (t === 0) return "0";
  if (step >= 60_000) return `${t / 60_000} min`;
  if (t < 1000) return `${t} ms`;
  const decimals = step >= 1000 ? 0 : step >= 100 ? 1 : step >= 10 ? 2 : 3;
  return `${(t / 1000).toFixed(decimals)} s`;
}

/** Past this many bars in view, lanes are drawn on a canvas; zooming in brings each bar back. */
const MAX_BARS_IN_VIEW = 1500;
/** The most the timeline zooms in: this many milliseconds across. */
const MIN_SPAN_MS = 20;

/**
 * The part of the run the timeline shows, in milliseconds from its first task run:
 * undefined for all of it.
 */
let zoom;
/** The last timeline drawn: its whole span, for the zoom and pan controls. */
let drawnSpan = { from: 0, to: 1 };

/** Shows `[from, to)` (ms after the first task run), kept inside the run; the whole run if it is all of it. */
function setZoom(from, to) {
  const whole = drawnSpan.to - drawnSpan.from;
  const span = Math.max(MIN_SPAN_MS, Math.min(to - from, whole));
  if (span >= whole) {
    zoom = undefined;
  } else {
    const start = Math.max(0, Math.min(from, whole - span));
    zoom = { from: start, to: start + span };
  }
  if (view) drawTimeline(view.model, nowOf(view));
}

/** Zooms by `factor` (below 1: in) around `at`, a fraction of the view's width. */
function zoomBy(factor, at = 0.5) {
  const whole = drawnSpan.to - drawnSpan.from;
  const { from, to } = zoom ?? { from: 0, to: whole };
  const pivot = from + (to - from) * at;
  setZoom(pivot - (pivot - from) * factor, pivot + (to - pivot) * factor);
}

/** Moves the view by `fraction` of its width (negative: earlier). */
function panBy(fraction) {
  if (!zoom) return;
  const shift = (zoom.to - zoom.from) * fraction;
  setZoom(zoom.from + shift, zoom.to + shift);
}

function nowOf(opened) {
  return opened.source !== undefined ? Math.max(Date.now(), opened.model.lastTime) : opened.model.lastTime;
}

byTestId("timeline-zoom-in").addEventListener("click", () => zoomBy(0.5));
byTestId("timeline-zoom-out").addEventListener("click", () => zoomBy(2));
byTestId("timeline-pan-left").addEventListener("click", () => panBy(-0.5));
byTestId("timeline-pan-right").addEventListener("click", () => panBy(0.5));
byTestId("timeline-reset").addEventListener("click", () => setZoom(0, Number.POSITIVE_INFINITY));

/** Where on the lanes' tracks a pointer is, as a fraction of their width. */
function trackFraction(clientX) {
  const track = byTestId("timeline").querySelector(".lane-track, .axis");
  if (!track) return 0.5;
  const box = track.getBoundingClientRect();
  return Math.min(1, Math.max(0, (clientX - box.left) / Math.max(box.width, 1)));
}

// Ctrl + wheel zooms around the pointer; Shift + wheel (or a sideways wheel) pans; a plain wheel scrolls the page.
byTestId("timeline").addEventListener(
  "wheel",
  (event) => {
    if (event.ctrlKey || event.metaKey) {
      event.preventDefault();
      zoomBy(event.deltaY < 0 ? 0.8 : 1.25, trackFraction(event.clientX));
    } else if (zoom && (event.shiftKey || Math.abs(event.deltaX) > Math.abs(event.deltaY))) {
      event.preventDefault();
      panBy(((event.shiftKey ? event.deltaY : event.deltaX) > 0 ? 1 : -1) * 0.1);
    }
  },
  { passive: false },
);

// Dragging the zoomed timeline sideways pans it.
byTestId("timeline").addEventListener("pointerdown", (event) => {
  if (!zoom || event.button !== 0) return;
  const container = byTestId("timeline");
  const start = { x: event.clientX, zoom };
  const width = container.querySelector(".axis")?.getBoundingClientRect().width || 1;
  container.setPointerCapture(event.pointerId);
  container.classList.add("dragging");
  const move = (moved) => {
    const shift = ((start.x - moved.clientX) / width) * (start.zoom.to - start.zoom.from);
    setZoom(start.zoom.from + shift, start.zoom.to + shift);
  };
  const up = () => {
    container.removeEventListener("pointermove", move);
    container.classList.remove("dragging");
  };
  container.addEventListener("pointermove", move);
  container.addEventListener("pointerup", up, { once: true });
  container.addEventListener("pointercancel", up, { once: true });
});

/** The colours of the states' kinds, from the style sheet, for bars drawn on a canvas. */
function kindColours() {
  const style = getComputedStyle(document.documentElement);
  const colours = {};
  for (const kind of ["pending", "running", "completed", "failed", "crashed", "cancelled"]) {
    colours[kind] = style.getPropertyValue(`--${kind}`).trim() || "#94a3b8";
  }
  return colours;
}

/** A time after the first task run, as precise as a view `span` ms wide needs: `268.61 s`. */
function formatOffset(ms, span) {
  if (span < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(span < 10_000 ? 2 : span < 100_000 ? 1 : 0)} s`;
}

function drawTimeline(model, now) {
  const { bars, lanes, from, to } = timeline(model, now);
  drawnSpan = { from, to };
  const container = byTestId("timeline");
  const byWorker = bars.some((bar) => bar.taskRun.worker !== undefined);
  const whole = Math.max(to - from, 1);
  if (zoom && zoom.to - zoom.from >= whole) zoom = undefined;
  const viewFrom = from + (zoom?.from ?? 0);
  const viewTo = zoom ? Math.min(from + zoom.to, Math.max(to, viewFrom + 1)) : from + whole;
  const span = Math.max(viewTo - viewFrom, 1);
  const inView = bars.filter((bar) => bar.end >= viewFrom && bar.start <= viewTo);
  const asCanvas = inView.length > MAX_BARS_IN_VIEW;
  byTestId("timeline-hint").textContent =
    bars.length === 0
      ? "No task runs yet."
      : `${byWorker ? "Task runs by the worker that ran them; a worker running several at once has a lane for each." : "The record names no workers: task runs that overlap in time are on separate lanes, so the lanes show how many ran at once."}${asCanvas ? ` ${number(inView.length)} task runs in view: zoom in to see each one.` : ""}`;
  for (const id of ["timeline-zoom-out", "timeline-pan-left", "timeline-pan-right", "timeline-reset"]) {
    byTestId(id).disabled = !zoom;
  }
  byTestId("timeline-zoom-in").disabled = bars.length === 0 || span <= MIN_SPAN_MS;
  byTestId("timeline-window").textContent =
    bars.length === 0
      ? ""
      : zoom
        ? `${formatOffset(viewFrom - from, span)} to ${formatOffset(viewTo - from, span)} of ${formatDuration(whole)}`
        : `${formatDuration(whole)} from the first task run to the last`;
  container.classList.toggle("zoomed", zoom !== undefined);
  if (bars.length === 0) {
    container.replaceChildren();
    return;
  }
  const at = (time) => `${(((time - viewFrom) / span) * 100).toFixed(3)}%`;
  const axis = h("div.axis", { "aria-hidden": "true", testid: "timeline-axis" });
  const step = tickStep(span);
  const ticks = [];
  // Ticks on round times after the first task run.
  for (let t = Math.ceil((viewFrom - from) / step) * step; from + t <= viewTo; t += step) {
    const tick = h("span.tick", { testid: "tick" }, tickLabel(t, step));
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
  if (asCanvas) {
    drawLanesOnCanvas(rows, inView, viewFrom, span);
  } else {
    for (const bar of inView) {
      const { taskRun } = bar;
      const element = h(
        `div.bar.${kindOf(taskRun.state)}${bar.live ? ".live" : ""}`,
        {
          testid: "task-bar",
          data: { state: taskRun.state, taskRunId: taskRun.id },
          title: `${taskRun.name}: ${taskRun.state}, ${formatDuration(bar.end - bar.start)}${taskRun.attempts > 1 ? `, ${taskRun.attempts} attempts` : ""}${taskRun.worker === undefined ? "" : ` on ${taskRun.worker}`}`,
        },
        h("span.bar-label", {}, taskRun.name),
      );
      element.style.left = at(bar.start);
      element.style.width = `${(((bar.end - bar.start) / span) * 100).toFixed(3)}%`;
      rows[bar.lane].append(element);
    }
  }
  // Every lane keeps a label: a worker's name on its first, its number on the others.
  container.replaceChildren(
    h("div.lane.axis-row", {}, h("span.lane-label", {}, ""), axis),
    ...lanes.map((lane, i) =>
      h(
        `div.lane${lane.first && i > 0 ? ".worker-start" : ""}`,
        { testid: "lane", data: { worker: lane.title || undefined } },
        lane.label || lane.index === undefined || lane.index === 0
          ? h("span.lane-label", { title: lane.title || lane.label }, lane.label)
          : h("span.lane-sub", { title: `${lane.title}, lane ${lane.index + 1}` }, `· ${lane.index + 1}`),
        rows[i],
      ),
    ),
  );
  if (asCanvas) for (const row of rows) paintLane(row);
}

/** Hands each lane's track the bars it holds, to paint once it is in the page and has a width. */
function drawLanesOnCanvas(rows, bars, viewFrom, span) {
  for (const row of rows) row.bars = [];
  for (const bar of bars) rows[bar.lane].bars.push(bar);
  for (const row of rows) {
    row.view = { viewFrom, span };
    row.append(h("canvas.lane-canvas", { testid: "lane-canvas", "aria-hidden": "true" }));
  }
}

function paintLane(track) {
  const canvas = track.querySelector("canvas");
  const width = track.clientWidth;
  const height = track.clientHeight;
  const scale = window.devicePixelRatio || 1;
  canvas.width = Math.max(1, Math.round(width * scale));
  canvas.height = Math.max(1, Math.round(height * scale));
  const context = canvas.getContext("2d");
  context.scale(scale, scale);
  const colours = kindColours();
  const { viewFrom, span } = track.view;
  // Completed runs first: the few that failed are drawn over them, so that they show.
  const order = (bar) => (kindOf(bar.taskRun.state) === "completed" ? 0 : 1);
  for (const bar of [...track.bars].sort((a, b) => order(a) - order(b))) {
    const x = ((bar.start - viewFrom) / span) * width;
    const w = Math.max(order(bar) === 0 ? 1 : 2, ((bar.end - bar.start) / span) * width);
    context.fillStyle = colours[kindOf(bar.taskRun.state)];
    context.fillRect(x, 3, w, height - 6);
  }
}

/** Per task, a bar of its runs by state and how many are done; a click shows its runs in the table. */
function drawProgress(model) {
  const tasks = progressByTask(model);
  byTestId("progress").replaceChildren(
    ...tasks.map((task) => {
      const bar = h("span.progress-bar", { "aria-hidden": "true" });
      for (const kind of ["completed", "failed", "crashed", "cancelled", "running"]) {
        if (task.counts[kind] === 0) continue;
        const segment = h(`span.progress-part.${kind}`);
        segment.style.width = `${((task.counts[kind] / task.total) * 100).toFixed(3)}%`;
        bar.append(segment);
      }
      const failed = task.counts.failed + task.counts.crashed;
      return h(
        "li",
        {},
        h(
          "button.progress-row",
          {
            type: "button",
            testid: "progress-row",
            data: { task: task.name },
            title: `Show ${task.name}'s task runs in the table`,
          },
          h("span.progress-name", {}, task.name),
          bar,
          h(
            "span.progress-done",
            { testid: "progress-done" },
            `${number(task.done)} / ${number(task.total)}${failed > 0 ? ` · ${number(failed)} failed` : ""}`,
          ),
        ),
      );
    }),
  );
}

byTestId("progress").addEventListener("click", (event) => {
  const row = event.target.closest("[data-task]");
  if (!row) return;
  byTestId("task-filter-task").value = row.dataset.task;
  filterTable();
  byTestId("task-table").scrollIntoView({ block: "nearest" });
});

function number(n) {
  return n.toLocaleString("en-US");
}

// ---- the task-run table: only the rows in sight are in the page --------------------------------

/** Each row's height in pixels (style.css `.task-row`): row i sits at i × ROW_HEIGHT. */
const ROW_HEIGHT = 28;
/** Rows drawn above and below the ones in sight, so that scrolling shows no gap. */
const OVERSCAN = 8;
/** The table's rows (every task run, by start) and those that pass its filters. */
let table = { rows: [], shown: [], first: 0 };

function resetTable() {
  table = { rows: [], shown: [], first: 0 };
  byTestId("task-search").value = "";
  for (const id of ["task-filter-task", "task-filter-state", "task-filter-worker"]) {
    byTestId(id).replaceChildren();
  }
  byTestId("task-table").scrollTop = 0;
}

/** Sets a select's options to "any" and `values` (shown as `label` gives them), keeping what was chosen. */
function setOptions(select, any, values, label = (value) => value) {
  const chosen = select.value;
  const key = JSON.stringify(values);
  if (select.dataset.key === key) return;
  select.dataset.key = key;
  select.replaceChildren(
    h("option", { value: "" }, any),
    ...values.map((value) => h("option", { value, title: value }, label(value))),
  );
  select.value = values.includes(chosen) ? chosen : "";
}

/** The table takes the run's task runs as they are now. */
function takeTaskRuns(model) {
  table.rows = taskRunRows(model);
  const tasks = new Set();
  const states = new Set();
  const workers = new Set();
  for (const row of table.rows) {
    tasks.add(row.definition ?? row.name);
    states.add(row.state);
    if (row.worker !== undefined) workers.add(String(row.worker));
  }
  table.first = table.rows.reduce((first, row) => Math.min(first, row.start ?? row.firstSeen), Infinity);
  setOptions(byTestId("task-filter-task"), "every task", [...tasks].sort());
  setOptions(
    byTestId("task-filter-state"),
    "every state",
    STATES.filter((state) => states.has(state)),
  );
  setOptions(
    byTestId("task-filter-worker"),
    "every worker",
    [...workers].sort((a, b) => a.localeCompare(b, undefined, { numeric: true })),
    workerLabel,
  );
  byTestId("task-filter-worker").hidden = workers.size === 0;
  filterTable(false);
}

/** Applies the filters; `toTop`: back to the first row (the filters changed, not the run). */
function filterTable(toTop = true) {
  table.shown = filterTaskRuns(table.rows, {
    definition: byTestId("task-filter-task").value,
    state: byTestId("task-filter-state").value,
    worker: byTestId("task-filter-worker").value,
    search: byTestId("task-search").value,
  });
  const viewport = byTestId("task-table");
  if (toTop) viewport.scrollTop = 0;
  byTestId("task-spacer").style.height = `${table.shown.length * ROW_HEIGHT}px`;
  byTestId("task-shown").textContent =
    table.shown.length === table.rows.length
      ? `${number(table.rows.length)} task run${table.rows.length === 1 ? "" : "s"}`
      : `${number(table.shown.length)} of ${number(table.rows.length)} task runs`;
  drawRows();
}

/** Draws the rows in sight (and a few either side) where they sit in the scrolled spacer. */
function drawRows() {
  const viewport = byTestId("task-table");
  const height = viewport.clientHeight || 420;
  const from = Math.max(0, Math.floor(viewport.scrollTop / ROW_HEIGHT) - OVERSCAN);
  const to = Math.min(table.shown.length, Math.ceil((viewport.scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
  const slice = viewport.querySelector(".task-window");
  slice.style.transform = `translateY(${from * ROW_HEIGHT}px)`;
  const rows = [];
  for (let i = from; i < to; i++) rows.push(taskRow(table.shown[i]));
  slice.replaceChildren(...rows);
}

function taskRow(taskRun) {
  const start = taskRun.start ?? taskRun.firstSeen;
  return h(
    "div.task-row",
    {
      testid: "task-row",
      data: { taskRunId: taskRun.id, state: taskRun.state },
      title: taskRun.error ? `${taskRun.error.name}: ${taskRun.error.message}` : undefined,
    },
    h("span.task-name", {}, taskRun.name),
    h("span", {}, taskRun.definition ?? ""),
    h("span", {}, badge(taskRun.state)),
    taskRun.worker === undefined
      ? h("span")
      : h("span", { title: String(taskRun.worker) }, workerLabel(taskRun.worker)),
    h("span.num", {}, `+${formatDuration(start - table.first)}`),
    h("span.num", {}, taskRun.end === undefined ? "" : formatDuration(taskRun.end - start)),
    h("span.num", {}, String(taskRun.attempts ?? "")),
  );
}

let rowsQueued = false;
byTestId("task-table").addEventListener("scroll", () => {
  if (rowsQueued) return;
  rowsQueued = true;
  requestAnimationFrame(() => {
    rowsQueued = false;
    drawRows();
  });
});
byTestId("task-search").addEventListener("input", () => filterTable());
for (const id of ["task-filter-task", "task-filter-state", "task-filter-worker"]) {
  byTestId(id).addEventListener("change", () => filterTable());
}

/** Failures listed in full; past these, the table (filtered by state) has the rest. */
const MAX_FAILURES = 50;

function drawFailures(model) {
  const failed = failures(model);
  byTestId("failures-section").hidden = failed.length === 0;
  byTestId("failures").replaceChildren(
    ...failed
      .slice(0, MAX_FAILURES)
      .map((run) =>
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
    ...(failed.length > MAX_FAILURES
      ? [
          h(
            "li.failure-more",
            { testid: "failures-more" },
            `and ${number(failed.length - MAX_FAILURES)} more: the task-run table lists them by state`,
          ),
        ]
      : []),
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
// A canvas is painted for its width, and the table draws the rows its height shows.
window.addEventListener("resize", () => {
  if (!view) return;
  drawTimeline(view.model, nowOf(view));
  drawRows();
});
// The list the server sent with the page (boot.js) is drawn now, before the page's load event;
// a page opened on a run marks itself ready (`data-ready` on <html>) once that run is drawn.
const boot = globalThis.squallBoot;
if (boot) takeList(boot);
else await refreshList();
route();
if (!view) markReady();
setInterval(refreshList, LIST_POLL_MS);
