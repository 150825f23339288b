import { flow, observeRuns } from "squall";
import { LambdaTaskRunner, type LocalEnvironment, startLocalEnvironment } from "squall/aws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BucketRunBackend } from "../../sdk/aws/records/bucket-backend.js";
import { type Dashboard, startDashboard } from "../../sdk/cli/dashboard/index.js";
import { brew, taste } from "../fixtures/dashboard-tasks.js";
import { serverSentEvents } from "../support/server-sent-events.js";

// `squall dashboard --stack`: the page's API over the runs in a stack's bucket, as the local
// environment's functions record them. The page itself is driven in test/e2e/dashboard.test.ts.
let local: LocalEnvironment;
let dashboard: Dashboard;
const LAMBDA_WORKER = /^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32}$/;

beforeAll(async () => {
  local = await startLocalEnvironment({ workers: 2 });
  dashboard = await startDashboard({ backend: new BucketRunBackend(local.address, { where: "stack Test" }) });
});
afterAll(async () => {
  await dashboard?.stop();
  await local?.stop();
});

const api = async (path: string) => fetch(new URL(path, dashboard.url));
type Line = Record<string, unknown>;

describe("the dashboard on a stack's bucket", () => {
  it("lists the runs there, and gives one run's lines with the worker of each task run", async () => {
    const tasting = flow({ taskRunner: new LambdaTaskRunner(local.address) }, async function tasting() {
      const beers = brew.map(["stout", "porter"], [5, 5]);
      await beers.wait();
      await taste.submit("lager", 5).wait();
    });
    const state = await tasting.run();
    expect(state.type).toBe("FAILED");
    const id = state.flowRun.id;

    // The coordinator marks the run final once the caller's notice that the flow returned is in.
    let listed: Line | undefined;
    let root = "";
    while (!listed?.final) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const answer = (await (await api("api/runs")).json()) as { root: string; runs: Line[] };
      root = answer.root;
      listed = answer.runs.find((run) => run.id === id);
    }
    expect(root).toBe("stack Test");
    expect(listed).toMatchObject({
      name: state.flowRun.name,
      flowName: "tasting",
      state: "Failed",
      final: true,
      counts: { completed: 2, failed: 1 },
    });

    const { events, offset } = (await (await api(`api/runs/${id}`)).json()) as {
      events: Line[];
      offset: number;
    };
    expect(offset).toBe(events.length);
    const finals = events.filter((line) => line.kind === "task" && line.state !== "Running");
    expect(finals.map((line) => line.state).sort()).toEqual(["Completed", "Completed", "Failed"]);
    for (const line of finals) expect(line.worker).toMatch(LAMBDA_WORKER);
    expect(events.at(-1)).toMatchObject({ kind: "flow", id, state: "Failed" });

    // A final run's stream sends its lines past `from`, then ends.
    const seen: string[] = [];
    for await (const event of serverSentEvents(await api(`api/runs/${id}/events?from=${offset - 2}`))) {
      seen.push(event.event === "end" ? "end" : JSON.parse(event.data).kind);
    }
    expect(seen).toEqual([String(events.at(-2)?.kind), "flow", "end"]);
    expect((await api("api/runs/no-such-run")).status).toBe(404);
    expect((await api("api/runs/no-such-run/events")).status).toBe(404);
  });

  it("follows a run while it goes on, to its final state", async () => {
    let id: string | undefined;
    const stop = observeRuns((event) => {
      if (event.kind === "flow" && event.definition === "brewing") id ??= event.id;
    });
    let ended = false;
    const brewing = flow({ taskRunner: new LambdaTaskRunner(local.address) }, async function brewing() {
      await brew.submit("stout", 600).wait();
      await brew.submit("porter", 600).wait();
    });
    const running = brewing.run().finally(() => {
      ended = true;
    });
    // The run is in the bucket once its first outcome is recorded.
    let found = false;
    while (!found) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      found = id !== undefined && (await api(`api/runs/${id}`)).status === 200;
    }
    const lines: Line[] = [];
    let endedAtFirstLine: boolean | undefined;
    for await (const event of serverSentEvents(await api(`api/runs/${id}/events?from=0`))) {
      if (event.event === "end") break;
      endedAtFirstLine ??= ended;
      lines.push(JSON.parse(event.data));
    }
    stop();
    expect((await running).type).toBe("COMPLETED");
    expect(endedAtFirstLine).toBe(false); // lines came while the run went on
    expect(lines.filter((line) => line.kind === "task" && line.state === "Completed")).toHaveLength(2);
    expect(lines.at(-1)).toMatchObject({ kind: "flow", id, state: "Completed" });
  });
});
