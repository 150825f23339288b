import { format } from "node:util";
import {
  configureLogging,
  flow,
  getRunContext,
  getRunLogger,
  InvalidArgumentError,
  type LevelName,
  type LogFormat,
  MissingContextError,
  resetLogging,
  task,
} from "squall";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { TaskMessage, TaskRecord } from "../../sdk/aws/wire/messages.js";
import { retryLine } from "../../sdk/aws/worker/retry-line.js";

// What reaches the real console.log. The spy goes in before any run with `logPrints` starts, so
// squall's print capture wraps it: prints it does not route to a run logger arrive here.
const printed: string[] = [];
const consoleLog = vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => {
  printed.push(format(...args));
});

let lines: string[] = [];
const savedEnv = {
  level: process.env.SQUALL_LOGGING_LEVEL,
  format: process.env.SQUALL_LOGGING_FORMAT,
};

function restoreEnv(name: "SQUALL_LOGGING_LEVEL" | "SQUALL_LOGGING_FORMAT", value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

beforeEach(() => {
  lines = [];
  printed.length = 0;
  delete process.env.SQUALL_LOGGING_LEVEL;
  delete process.env.SQUALL_LOGGING_FORMAT;
  resetLogging();
  configureLogging({ write: (line) => lines.push(line) });
});

afterEach(() => {
  restoreEnv("SQUALL_LOGGING_LEVEL", savedEnv.level);
  restoreEnv("SQUALL_LOGGING_FORMAT", savedEnv.format);
  resetLogging();
});

afterAll(() => {
  consoleLog.mockRestore();
});

const TIME = String.raw`\d\d:\d\d:\d\d\.\d{3}`;

/** The message part of each text line (after `| LEVEL | `). */
function messages(): string[] {
  return lines.map((line) => line.replace(new RegExp(`^${TIME} \\| [A-Z]+ *\\| `), "").replace(/\n$/, ""));
}

describe("getRunLogger()", () => {
  it("writes lines naming the task run and the flow run, with the time and the level", async () => {
    const sayHello = task(function sayHello(name: string) {
      getRunLogger().info(`hello ${name}`);
      getRunLogger().warn(`careful, ${name}`);
    });
    const greet = flow({ flowRunName: "greeting-run" }, async function greet() {
      getRunLogger().info("starting");
      await sayHello("ada");
      await sayHello.submit("alan").result();
      getRunLogger().error("stopping");
      getRunLogger().critical("really stopping");
    });

    await greet();

    const ours = lines.filter((line) => !/Beginning flow run|Finished in state/.test(line));
    expect(ours).toHaveLength(7);
    expect(ours[0]).toMatch(new RegExp(`^${TIME} \\| INFO     \\| Flow run 'greeting-run' - starting\\n$`));
    expect(ours[1]).toMatch(new RegExp(`^${TIME} \\| INFO     \\| Task run 'sayHello-0' - hello ada\\n$`));
    expect(ours[2]).toMatch(new RegExp(`^${TIME} \\| WARNING  \\| Task run 'sayHello-0' - careful, ada\\n$`));
    expect(ours[3]).toMatch(new RegExp(`^${TIME} \\| INFO     \\| Task run 'sayHello-1' - hello alan\\n$`));
    expect(ours[4]).toMatch(
      new RegExp(`^${TIME} \\| WARNING  \\| Task run 'sayHello-1' - careful, alan\\n$`),
    );
    expect(ours[5]).toMatch(new RegExp(`^${TIME} \\| ERROR    \\| Flow run 'greeting-run' - stopping\\n$`));
    expect(ours[6]).toMatch(
      new RegExp(`^${TIME} \\| CRITICAL \\| Flow run 'greeting-run' - really stopping\\n$`),
    );
  });

  it("names the enclosing task run for a task called inside another task", async () => {
    const innerStep = task(function innerStep() {
      getRunLogger().info("inner");
    });
    const outerStep = task(async function outerStep() {
      getRunLogger().info("outer");
      await innerStep();
    });
    await flow({ flowRunName: "nesting-run" }, async function nesting() {
      await outerStep();
    })();

    expect(messages()).toContain("Task run 'outerStep-0' - outer");
    expect(messages()).toContain("Task run 'outerStep-0' - inner");
  });

  it("names a subflow's own run in its lines", async () => {
    const child = flow({ flowRunName: "child-run" }, function child() {
      getRunLogger().info("from the child");
    });
    await flow({ flowRunName: "parent-run" }, async function parent() {
      getRunLogger().info("from the parent");
      await child();
    })();

    expect(messages()).toContain("Flow run 'parent-run' - from the parent");
    expect(messages()).toContain("Flow run 'child-run' - from the child");
  });

  it("throws MissingContextError outside a run", () => {
    expect(() => getRunLogger()).toThrow(MissingContextError);
    expect(() => getRunLogger()).toThrow(
      "getRunLogger() was called outside a flow or task run. Call it from inside a flow or task function.",
    );
    expect(lines).toEqual([]);
  });

  it("formats printf-style arguments", async () => {
    await flow({ flowRunName: "format-run" }, function formatArgs() {
      const logger = getRunLogger();
      logger.info("x=%d", 5);
      logger.info("user %s has %o", "ada", { roles: ["admin"] });
      logger.warn("values", 1, "two");
      logger.info("100% done");
    })();

    expect(messages().slice(1, -1)).toEqual([
      "Flow run 'format-run' - x=5",
      "Flow run 'format-run' - user ada has { roles: [ 'admin', [length]: 1 ] }",
      "Flow run 'format-run' - values 1 two",
      "Flow run 'format-run' - 100% done",
    ]);
  });
});

describe("levels", () => {
  it("drops lines below the configured level", async () => {
    configureLogging({ level: "WARNING" });
    const levels = task(function levels() {
      const logger = getRunLogger();
      logger.debug("debug line");
      logger.info("info line");
      logger.warn("warn line");
      logger.error("error line");
    });
    await flow({ flowRunName: "levels-run" }, async function levelsFlow() {
      await levels();
    })();

    expect(messages()).toEqual(["Task run 'levels-0' - warn line", "Task run 'levels-0' - error line"]);
    expect(lines[0]).toContain("| WARNING  |");
    expect(lines[1]).toContain("| ERROR    |");
  });

  it("shows debug lines, the task run's own included, at DEBUG", async () => {
    configureLogging({ level: "DEBUG" });
    const verbose = task(function verbose() {
      getRunLogger().debug("details");
    });
    await flow({ flowRunName: "debug-run" }, async function debugFlow() {
      await verbose();
    })();

    expect(messages()).toContain("Task run 'verbose-0' - details");
    expect(messages()).toContain("Task run 'verbose-0' - Finished in state Completed()");
    expect(lines.find((line) => line.includes("details"))).toContain("| DEBUG    |");
  });

  it("rejects an invalid level with InvalidArgumentError listing the valid ones, keeping the old level", async () => {
    configureLogging({ level: "ERROR" });

    expect(() => configureLogging({ level: "LOUD" as LevelName })).toThrow(
      new InvalidArgumentError(
        "Expected `level` to be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got `LOUD`",
      ),
    );
    expect(() => configureLogging({ format: "xml" as LogFormat })).toThrow(
      new InvalidArgumentError("Expected `format` to be `text` or `json`, got `xml`"),
    );

    await flow({ flowRunName: "kept-level" }, function keptLevel() {
      getRunLogger().warn("dropped");
      getRunLogger().error("kept");
    })();
    expect(messages()).toEqual(["Flow run 'kept-level' - kept"]);
  });
});

describe("JSON format", () => {
  it("writes one JSON object per line with the level, message and run names and ids", async () => {
    configureLogging({ format: "json" });
    const report = task(function report() {
      getRunLogger().warn("from the task");
    });
    const jsonFlow = flow({ flowRunName: "json-run" }, async function jsonFlow() {
      getRunLogger().info("from the flow");
      const future = report.submit();
      await future.result();
      return { flowRunId: getRunContext().flowRun.id, taskRunId: future.taskRunId };
    });

    const { flowRunId, taskRunId } = await jsonFlow();

    for (const line of lines) expect(line).toMatch(/^\{.*\}\n$/);
    const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const fromFlow = records.find((record) => record.message === "from the flow");
    const fromTask = records.find((record) => record.message === "from the task");
    expect(fromFlow).toEqual({
      time: expect.any(Number),
      level: "INFO",
      message: "from the flow",
      flowRunId,
      flowRunName: "json-run",
    });
    expect(fromTask).toEqual({
      time: expect.any(Number),
      level: "WARNING",
      message: "from the task",
      flowRunId,
      flowRunName: "json-run",
      taskRunId,
      taskRunName: "report-0",
    });
    expect(Math.abs((fromTask?.time as number) - Date.now())).toBeLessThan(60_000);
    expect(records.map((record) => record.message)).toContain(
      "Beginning flow run 'json-run' for flow 'jsonFlow'",
    );
  });
});

describe("JSON format with a failure", () => {
  it("keeps a multi-line message (a failure's stack) on one JSON line", async () => {
    configureLogging({ format: "json" });
    const fails = task(function fails() {
      throw new RangeError("out of range");
    });
    await flow({ flowRunName: "json-failure" }, async function jsonFailure() {
      await fails.submit().result({ raiseOnFailure: false });
    })();

    const records = lines.map((line) => {
      expect(line.indexOf("\n")).toBe(line.length - 1);
      return JSON.parse(line) as { level: string; message: string; taskRunName?: string };
    });
    const failure = records.find((record) => record.taskRunName === "fails-0");
    expect(failure?.level).toBe("ERROR");
    expect(failure?.message).toMatch(
      /^Finished in state Failed\('RangeError: out of range'\)\nRangeError: out of range\n {4}at fails/,
    );
  });
});

describe("environment variables", () => {
  afterEach(() => {
    vi.resetModules();
  });

  it("are read when squall is imported", async () => {
    process.env.SQUALL_LOGGING_LEVEL = "ERROR";
    process.env.SQUALL_LOGGING_FORMAT = "json";
    vi.resetModules();
    const fresh = await import("squall");
    const freshLines: string[] = [];
    fresh.configureLogging({ write: (line) => freshLines.push(line) });

    await fresh.flow({ flowRunName: "import-run" }, function importFlow() {
      fresh.getRunLogger().warn("dropped");
      fresh.getRunLogger().error("kept");
    })();

    expect(freshLines.map((line) => JSON.parse(line).message)).toEqual(["kept"]);
  });

  it("resetLogging() reads SQUALL_LOGGING_LEVEL and SQUALL_LOGGING_FORMAT", async () => {
    process.env.SQUALL_LOGGING_LEVEL = "warning";
    process.env.SQUALL_LOGGING_FORMAT = "json";
    resetLogging();
    configureLogging({ write: (line) => lines.push(line) });

    await flow({ flowRunName: "env-run" }, function envFlow() {
      getRunLogger().info("not shown");
      getRunLogger().warn("shown");
    })();

    expect(lines.map((line) => JSON.parse(line))).toEqual([
      {
        time: expect.any(Number),
        level: "WARNING",
        message: "shown",
        flowRunId: expect.any(String),
        flowRunName: "env-run",
      },
    ]);
  });

  it("accepts WARN for WARNING and DEBUG in any case", async () => {
    process.env.SQUALL_LOGGING_LEVEL = "WARN";
    resetLogging();
    configureLogging({ write: (line) => lines.push(line) });
    await flow({ flowRunName: "warn-run" }, function warnFlow() {
      getRunLogger().info("dropped");
      getRunLogger().warn("kept");
    })();
    expect(messages()).toEqual(["Flow run 'warn-run' - kept"]);

    process.env.SQUALL_LOGGING_LEVEL = "debug";
    resetLogging();
    configureLogging({ write: (line) => lines.push(line) });
    lines.length = 0;
    await flow({ flowRunName: "debug-env-run" }, function debugEnvFlow() {
      getRunLogger().debug("debugging");
    })();
    expect(messages()).toContain("Flow run 'debug-env-run' - debugging");
  });

  it("rejects an invalid SQUALL_LOGGING_LEVEL or SQUALL_LOGGING_FORMAT with InvalidArgumentError", () => {
    process.env.SQUALL_LOGGING_LEVEL = "LOUD";
    expect(() => resetLogging()).toThrow(
      new InvalidArgumentError(
        "Expected SQUALL_LOGGING_LEVEL to be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got `LOUD`",
      ),
    );

    process.env.SQUALL_LOGGING_LEVEL = "INFO";
    process.env.SQUALL_LOGGING_FORMAT = "xml";
    expect(() => resetLogging()).toThrow(
      new InvalidArgumentError("Expected SQUALL_LOGGING_FORMAT to be `text` or `json`, got `xml`"),
    );
  });

  it("goes back to INFO and text when the variables are unset", async () => {
    process.env.SQUALL_LOGGING_LEVEL = "ERROR";
    process.env.SQUALL_LOGGING_FORMAT = "json";
    resetLogging();
    delete process.env.SQUALL_LOGGING_LEVEL;
    delete process.env.SQUALL_LOGGING_FORMAT;
    resetLogging();
    configureLogging({ write: (line) => lines.push(line) });

    await flow({ flowRunName: "default-run" }, function defaultFlow() {
      getRunLogger().debug("dropped");
      getRunLogger().info("kept");
    })();

    expect(lines[1]).toMatch(new RegExp(`^${TIME} \\| INFO     \\| Flow run 'default-run' - kept\\n$`));
    expect(messages()).not.toContain("Flow run 'default-run' - dropped");
  });
});

describe("logPrints", () => {
  it("routes console output inside a task with logPrints to its run logger, and leaves other prints alone", async () => {
    const chatty = task({ logPrints: true }, async function chatty(n: number) {
      console.log("n is %d", n);
      await new Promise((resolve) => setTimeout(resolve, 1));
      console.info("after a pause");
      console.warn("careful");
      console.error("broken");
      return n;
    });
    const quiet = task(function quiet() {
      console.log("quiet print");
    });
    const printsFlow = flow({ flowRunName: "prints-run" }, async function printsFlow() {
      console.log("flow print");
      await chatty(3);
      await quiet();
    });

    console.log("outside print");
    await printsFlow();

    expect(printed).toEqual(["outside print", "flow print", "quiet print"]);
    const fromChatty = lines.filter((line) => line.includes("Task run 'chatty-0'"));
    expect(fromChatty.map((line) => line.replace(new RegExp(`^${TIME} `), ""))).toEqual([
      "| INFO     | Task run 'chatty-0' - n is 3\n",
      "| INFO     | Task run 'chatty-0' - after a pause\n",
      "| WARNING  | Task run 'chatty-0' - careful\n",
      "| ERROR    | Task run 'chatty-0' - broken\n",
    ]);
    expect(lines.join("")).not.toMatch(/outside print|flow print|quiet print/);
  });

  it("leaves console.log alone when a task with logPrints is called outside a flow", async () => {
    const plainPrinter = task({ logPrints: true }, function plainPrinter() {
      console.log("plain call print");
    });

    await plainPrinter();

    expect(printed).toEqual(["plain call print"]);
    expect(lines).toEqual([]);
  });

  it("applies a flow's logPrints to its tasks and to the flow function", async () => {
    const inherits = task(function inherits(label: string) {
      console.log(`task says ${label}`);
    });
    const optsOut = task({ logPrints: false }, function optsOut() {
      console.log("opted out print");
    });
    const loud = flow({ logPrints: true, flowRunName: "loud-run" }, async function loud() {
      console.log("flow says hi");
      await inherits("direct");
      await inherits.submit("submitted").result();
      await optsOut();
    });

    await loud();

    expect(messages()).toContain("Flow run 'loud-run' - flow says hi");
    expect(messages()).toContain("Task run 'inherits-0' - task says direct");
    expect(messages()).toContain("Task run 'inherits-1' - task says submitted");
    expect(printed).toEqual(["opted out print"]);
  });

  it("respects the level for routed prints", async () => {
    configureLogging({ level: "WARNING" });
    const filtered = task({ logPrints: true }, function filtered() {
      console.log("info print");
      console.warn("warn print");
    });
    await flow({ flowRunName: "filtered-run" }, async function filteredFlow() {
      await filtered();
    })();

    expect(messages()).toEqual(["Task run 'filtered-0' - warn print"]);
    expect(printed).toEqual([]);
  });
});

describe("what the engine logs", () => {
  it("logs the beginning and the end of a flow run", async () => {
    await flow({ flowRunName: "engine-run" }, function engineLogs() {
      return 1;
    })();

    expect(messages()).toEqual([
      "Flow run 'engine-run' - Beginning flow run 'engine-run' for flow 'engineLogs'",
      expect.stringMatching(/^Flow run 'engine-run' - Finished in state Completed\(\) after \d+\.\d{3} s$/),
    ]);
    expect(lines.every((line) => line.includes("| INFO     |"))).toBe(true);
  });

  it("logs an ERROR line with the stack when a task fails, and when the flow fails", async () => {
    const explode = task(function explode() {
      throw new Error("kaboom");
    });
    const state = await flow({ flowRunName: "failing-run" }, async function failing() {
      await explode();
    }).run();

    expect(state.type).toBe("FAILED");
    const error = "error" in state ? state.error : undefined;
    expect(error?.message).toBe("kaboom");
    const taskLine = lines.find((line) => line.includes("Task run 'explode-0'"));
    expect(taskLine).toMatch(new RegExp(`^${TIME} \\| ERROR    \\| `));
    // The stack down to the flow's own code: how squall called the flow is left out.
    const frames = (error?.stack ?? "").split("\n");
    const flowFrame = frames.findIndex((line) =>
      /^\s+at failing \(.*logging\.test\.ts:\d+:\d+\)$/.test(line),
    );
    expect(flowFrame).toBeGreaterThan(0);
    const shown = frames.slice(0, flowFrame + 1).join("\n");
    expect(shown).toMatch(/at explode \(.*logging\.test\.ts:\d+:\d+\)/);
    expect(taskLine).toContain(
      `Task run 'explode-0' - Finished in state Failed('Error: kaboom')\n${shown}\n`,
    );
    const flowEnd = lines.at(-1);
    expect(flowEnd).toMatch(
      new RegExp(
        `^${TIME} \\| ERROR    \\| Flow run 'failing-run' - Finished in state Failed\\('Error: kaboom'\\) after \\d+\\.\\d{3} s\\n$`,
      ),
    );
  });

  it("logs a retry at INFO, naming the attempt and the delay", async () => {
    let calls = 0;
    const wobbly = task({ retries: 1, retryDelaySeconds: 0 }, function wobbly() {
      calls += 1;
      if (calls === 1) throw new TypeError("first try");
      return calls;
    });
    await flow({ flowRunName: "retry-run" }, async function retrying() {
      await wobbly();
    })();

    expect(messages()).toContain(
      "Task run 'wobbly-0' - Attempt 1 failed with TypeError: first try. Retry 1/1 starts in 0 s.",
    );
    expect(lines.some((line) => line.includes("| ERROR"))).toBe(false);
  });

  it.each([
    [0.0500000001, "0.05 s"],
    [1.1371500280125753, "1.14 s"],
    [12.71, "13 s"],
  ])("rounds a retry delay of %d s to %s in its log line", async (delay, shown) => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      let calls = 0;
      const jittery = task(
        { name: `jittery-${shown}`, retries: 1, retryDelaySeconds: delay },
        function jittery() {
          calls += 1;
          if (calls === 1) throw new TypeError("first try");
          return calls;
        },
      );
      const run = flow({ flowRunName: "delay-run" }, async function delayed() {
        await jittery();
      })();
      await vi.advanceTimersByTimeAsync(13_000);
      await run;
    } finally {
      vi.useRealTimers();
    }
    expect(messages()).toContain(
      `Task run 'jittery-${shown}-0' - Attempt 1 failed with TypeError: first try. Retry 1/1 starts in ${shown}.`,
    );
  });

  it("rounds the delay the same in the retry line a Lambda worker writes", () => {
    const line = retryLine(
      { flowRunId: "f", flowRunName: "retry-run" } as TaskMessage,
      { attempt: 1, taskRunId: "t", taskRunName: "jittery-0" } as TaskRecord,
      new TypeError("first try"),
      2,
      1.1371500280125753,
    );
    expect(line.message).toBe("Attempt 1 failed with TypeError: first try. Retry 1/2 starts in 1.14 s.");
  });
});
