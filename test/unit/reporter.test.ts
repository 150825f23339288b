// When a worker's outcomes go out: runs that end together share a message; one that ends alone
// goes out once no other has ended for a few milliseconds, not at the end of the whole window.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { SqsQueue } from "../../sdk/aws/queue.js";
import type { Outcome } from "../../sdk/aws/wire/messages.js";
import { REPORT_QUIET_MS, REPORT_WINDOW_MS, Reporter } from "../../sdk/aws/worker/reporter.js";

const FLOW_RUN = "f00d";
const keys = new Map([[FLOW_RUN, { key: new Uint8Array(32), cancelled: undefined }]]);

const outcome = (n: number): Outcome => ({
  flowRunId: FLOW_RUN,
  taskRunId: `r-${n}`,
  attempt: 1,
  status: "completed",
  serializer: "default",
  payload: { text: String(n) },
  endedAt: n,
  logs: [],
});

/** A reporter whose completion queue records each send's outcome ids. */
function reporter() {
  const sends: string[][] = [];
  const completions = {
    send: async (bodies: string[]) => {
      for (const body of bodies) {
        const json = JSON.parse(body.replace(/^\{"mac":"[^"]*",/, "{")) as { outcomes: Outcome[] };
        sends.push(json.outcomes.map((o) => o.taskRunId));
      }
    },
  } as unknown as SqsQueue;
  const tasks = { send: async () => {} } as unknown as SqsQueue;
  const reporting = new Reporter(keys as never, { tasks, completions, maxDeaths: 3, stallDelaySeconds: 1 });
  return { reporting, sends };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("a worker's reporter", () => {
  it("sends a run that ends alone once no other has ended for REPORT_QUIET_MS, long before the window closes", async () => {
    const { reporting, sends } = reporter();
    void reporting.add({ outcomes: [outcome(1)] });
    await vi.advanceTimersByTimeAsync(REPORT_QUIET_MS - 1);
    expect(sends).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(sends).toEqual([["r-1"]]);
    expect(REPORT_QUIET_MS).toBeLessThan(REPORT_WINDOW_MS / 5);
  });

  it("keeps runs ending one after another in one message, up to the window", async () => {
    const { reporting, sends } = reporter();
    // One run ending every 2 ms: never quiet for 5 ms, so the window closes on them.
    for (let n = 0; n < 40; n++) {
      void reporting.add({ outcomes: [outcome(n)] }, n);
      await vi.advanceTimersByTimeAsync(2);
    }
    expect(sends).toEqual([Array.from({ length: REPORT_WINDOW_MS / 2 }, (_, n) => `r-${n}`)]);
    await vi.advanceTimersByTimeAsync(REPORT_QUIET_MS);
    expect(sends.flat()).toEqual(Array.from({ length: 40 }, (_, n) => `r-${n}`));
    expect(sends).toHaveLength(2);
  });
});
