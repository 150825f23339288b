import { configureLogging, flow, InvalidArgumentError, resetLogging, task } from "squall";
import { LambdaTaskRunner, type LocalEnvironment, startLocalEnvironment } from "squall/aws";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runsAnywhere, runsLarge } from "../fixtures/worker-pool-tasks.js";

beforeEach(() => configureLogging({ write: () => {} }));
afterEach(() => resetLogging());

let local: LocalEnvironment;
let runner: LambdaTaskRunner;

beforeAll(async () => {
  local = await startLocalEnvironment({
    workers: 1,
    workerTimeoutSeconds: 30,
    pools: { large: { workers: 1, workerTimeoutSeconds: 120 }, small: { workerTimeoutSeconds: 5 } },
  });
  runner = new LambdaTaskRunner(local.address);
}, 30_000);
afterAll(async () => {
  await local?.stop();
});

describe("worker pools in the local environment", () => {
  it("gives each pool its own task queue and worker timeout in the address", () => {
    const { pools, taskQueueUrl } = local.address;
    expect(Object.keys(pools)).toEqual(["large", "small"]);
    expect(pools.large?.workerTimeoutSeconds).toBe(120);
    expect(pools.small?.workerTimeoutSeconds).toBe(5);
    const urls = new Set([taskQueueUrl, pools.large?.taskQueueUrl, pools.small?.taskQueueUrl]);
    expect(urls.size).toBe(3);
  });

  it("names each pool's worker threads by their log stream names, as outcomes name where they ran", () => {
    const streams = ["default", "large", "small"].map((pool) => local.workers(pool));
    expect(streams.map((names) => names.length)).toEqual([1, 1, 1]);
    expect(local.workers()).toEqual(streams[0]);
    for (const name of streams.flat())
      expect(name).toMatch(/^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32}$/);
    expect(new Set(streams.flat()).size).toBe(3);
    expect(() => local.workers("gpu")).toThrow(
      new InvalidArgumentError(
        'Expected workers() to name a pool of the environment, "default", "large", "small", got `gpu`',
      ),
    );
  });

  it("runs tasks on the pool they name, by `task({ pool })` or `withOptions({ pool })`, and the rest on the default pool", async () => {
    const routed = flow({ taskRunner: runner }, async function routed() {
      const futures = [
        runsAnywhere.submit("default 1"),
        runsLarge.submit("large 1"),
        runsAnywhere.withOptions({ pool: "small" }).submit("small 1"),
        runsLarge.withOptions({ pool: "default" }).submit("default 2"),
        runsLarge.submit("large 2"),
      ];
      return Promise.all(futures.map((future) => future.result()));
    });

    const results = await routed();

    const { pools, taskQueueUrl } = local.address;
    expect(results).toEqual([
      { value: "default 1", queue: taskQueueUrl, workerTimeoutSeconds: "30" },
      { value: "large 1", queue: pools.large?.taskQueueUrl, workerTimeoutSeconds: "120" },
      { value: "small 1", queue: pools.small?.taskQueueUrl, workerTimeoutSeconds: "5" },
      { value: "default 2", queue: taskQueueUrl, workerTimeoutSeconds: "30" },
      { value: "large 2", queue: pools.large?.taskQueueUrl, workerTimeoutSeconds: "120" },
    ]);
  });

  it("refuses at .submit() a task naming a pool the deployment lacks, naming the pools it has", async () => {
    const onGpu = runsAnywhere.withOptions({ pool: "gpu" });
    const refused = flow({ taskRunner: runner }, async function refusedPool() {
      try {
        onGpu.submit("x");
        return undefined;
      } catch (error) {
        return error;
      }
    });

    const error = await refused();

    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toBe(
      "Task 'runsAnywhere' names worker pool 'gpu', which this deployment does not have; it has 'default', 'large', 'small'. Add the pool to the Squall construct's `pools` (or the local environment's), or name one of these.",
    );
  });

  it("refuses at .submit() a task whose timeout is longer than its own pool's worker timeout", async () => {
    const long = runsAnywhere.withOptions({ timeoutSeconds: 60 });
    const checked = flow({ taskRunner: runner }, async function checkedTimeouts() {
      const onLarge = await long.withOptions({ pool: "large" }).submit("fits").result();
      const refusals = ["small", "default"].map((pool) => {
        try {
          long.withOptions({ pool }).submit("too long");
          return undefined;
        } catch (error) {
          return (error as Error).message;
        }
      });
      return { onLarge, refusals };
    });

    const { onLarge, refusals } = await checked();

    expect(onLarge).toEqual({
      value: "fits",
      queue: local.address.pools.large?.taskQueueUrl,
      workerTimeoutSeconds: "120",
    });
    expect(refusals).toEqual([
      "Task 'runsAnywhere' has a timeout of 60 seconds, longer than pool 'small''s worker function's timeout of 5 seconds: Lambda would end the worker before the task's deadline. Raise the worker's timeout in the Squall construct (`pools: { \"small\": { timeout } }`), or lower the task's `timeoutSeconds`.",
      "Task 'runsAnywhere' has a timeout of 60 seconds, longer than the worker function's timeout of 30 seconds: Lambda would end the worker before the task's deadline. Raise the worker's timeout in the Squall construct (`worker: { timeout }`), or lower the task's `timeoutSeconds`.",
    ]);
  });

  it("refuses a pool name that could not name a stack's resources", () => {
    expect(() => task({ pool: "Large" }, function badPool() {})).toThrow(
      new InvalidArgumentError(
        "Expected `pool` to be a pool name (lowercase letters, digits and `-`, starting with a letter, up to 32), got `Large`",
      ),
    );
    expect(() => runsAnywhere.withOptions({ pool: "" })).toThrow(
      "Expected `pool` to be a pool name (lowercase letters, digits and `-`, starting with a letter, up to 32), got ``",
    );
  });
});
