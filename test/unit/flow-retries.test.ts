import { flow, InvalidArgumentError, SequentialTaskRunner, task } from "squall";
import { describe, expect, it } from "vitest";

const calls = { fetch: 0, flaky: 0, parsed: [] as string[] };

const fetchPage = task(function fetchPage(n: number) {
  calls.fetch += 1;
  return `page ${n}`;
});

const flakyParse = task(function flakyParse(page: string) {
  calls.flaky += 1;
  calls.parsed.push(page);
  if (calls.flaky === 1) throw new Error("parser hiccup");
  return page.toUpperCase();
});

const crawl = flow({ retries: 2, taskRunner: new SequentialTaskRunner() }, async function crawl() {
  const pages = await fetchPage.map([1, 2, 3]).result();
  return Promise.all(pages.map((page) => flakyParse(page)));
});

describe("flow retries", () => {
  it("run the flow function again, replaying the task runs that completed instead of running them again", async () => {
    const state = await crawl.run();
    expect(state.name).toBe("Completed");
    expect("result" in state && state.result).toEqual(["PAGE 1", "PAGE 2", "PAGE 3"]);
    expect(calls.fetch).toBe(3); // once each: replayed in the retry
    // The first parse failed and the two others completed: the retry ran only the failed one again.
    expect(calls.parsed).toEqual(["page 1", "page 2", "page 3", "page 1"]);
  });

  it("give up after their number, failing with the last attempt's error", async () => {
    let attempts = 0;
    const doomed = flow({ retries: 1 }, function doomed() {
      attempts += 1;
      throw new Error(`attempt ${attempts} failed`);
    });
    const state = await doomed.run();
    expect(state.name).toBe("Failed");
    expect("error" in state && state.error.message).toBe("attempt 2 failed");
    expect(attempts).toBe(2);
  });

  it("refuse a retry count that is no whole number", () => {
    expect(() => flow({ retries: 1.5 }, function bad() {})).toThrow(InvalidArgumentError);
    expect(() => flow({ retryDelaySeconds: -1 }, function bad() {})).toThrow(InvalidArgumentError);
  });
});
