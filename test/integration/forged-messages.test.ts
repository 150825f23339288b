// Messages from someone who may send to squall's queues and do nothing else: they cannot read a
// flow run's key, so they cannot sign. The worker runs nothing and the coordinator records nothing
// of a message not signed with its flow run's key; each is rejected once, with its reason.
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultSerializer } from "squall";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { createCoordinator } from "../../sdk/aws/coordinator/coordinator.js";
import { readSegments, readSummary, summaryKey } from "../../sdk/aws/record/run-log.js";
import { type FlowReturned, type Outcome, WIRE_VERSION } from "../../sdk/aws/wire/messages.js";
import { newRunKey } from "../../sdk/aws/wire/run-key.js";
import { seal } from "../../sdk/aws/wire/seal.js";
import { createTaskWorker } from "../../sdk/aws/worker/task-worker.js";
import "../fixtures/ledger-tasks.js";
import {
  decoded,
  fixtureModule,
  outcomesOf,
  taskMessage,
  taskRecord,
  workerResources,
} from "../support/worker-harness.js";

const { module: MODULE, codeHash: CODE_HASH } = fixtureModule("ledger-tasks");
const SENDER = "AIDAEXAMPLEATTACKER";

let resources: Awaited<ReturnType<typeof workerResources>>;
let dir: string;

beforeAll(async () => {
  resources = await workerResources(inject("emulatorEndpoint"), "forged");
  dir = mkdtempSync(join(tmpdir(), "squall-forged-"));
});
afterAll(() => {
  resources.close();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => vi.restoreAllMocks());

/** Lines the run's tasks left in `file`. */
const ledger = (file: string) => {
  try {
    return readFileSync(file, "utf8").split("\n").filter(Boolean);
  } catch {
    return [];
  }
};

/** Records as SQS delivers them, each from the attacker's principal. */
const delivered = (bodies: string[], eventSourceARN?: string) => ({
  Records: bodies.map((body, i) => ({
    messageId: `forged-${i}`,
    body,
    attributes: { ApproximateReceiveCount: "1", SenderId: SENDER },
    ...(eventSourceARN && { eventSourceARN }),
  })),
});

/** The rejection lines a function wrote to stderr while `action` ran. */
async function rejectionLines(action: () => Promise<unknown>): Promise<Record<string, unknown>[]> {
  const lines: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
    if (String(chunk).includes('"RejectedMessages"')) lines.push(String(chunk));
    else return write(chunk as string, ...(rest as []));
    return true;
  });
  await action();
  vi.restoreAllMocks();
  return lines.map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe("the worker, given messages nobody signed", () => {
  it("runs nothing of a message unsigned, signed with another key or for the other queue, or naming a run with no key", async () => {
    const { tasks, completions, store, signer } = resources;
    const file = join(dir, "worker.txt");
    const flowRunId = randomUUID();
    const runKey = await signer.keyOf(flowRunId); // a run its caller started
    const forged = JSON.stringify(
      taskMessage([taskRecord(MODULE, CODE_HASH, "addToLedger", [file, "forged", 1])], flowRunId),
    );
    const nobodysRun = JSON.stringify(
      taskMessage([taskRecord(MODULE, CODE_HASH, "addToLedger", [file, "nobody", 1])], randomUUID()),
    );
    const climbing = JSON.stringify({ ...JSON.parse(forged), flowRunId: "../keys/x" });
    const genuine = await signer.taskBody(
      taskMessage([taskRecord(MODULE, CODE_HASH, "addToLedger", [file, "genuine", 2])], flowRunId),
    );
    const worker = createTaskWorker({ tasks, completions, store });

    let response: unknown;
    const lines = await rejectionLines(async () => {
      response = await worker.handle(
        delivered([
          forged,
          seal(newRunKey(), "tasks", forged),
          seal(runKey, "completions", forged),
          seal(newRunKey(), "tasks", nobodysRun),
          seal(runKey, "tasks", climbing),
          `{"mac":"${"A".repeat(43)}",not json`,
          genuine,
        ]),
      );
    });

    expect(response).toEqual({ batchItemFailures: [] });
    expect(ledger(file)).toEqual(["genuine 2"]);
    const outcomes = await outcomesOf(completions);
    expect(outcomes.map((o) => [o.flowRunId, o.status, decoded(o)])).toEqual([[flowRunId, "completed", 2]]);
    expect(await tasks.receive({ max: 10, waitSeconds: 0 })).toEqual([]);
    expect(worker.rejected()).toEqual({
      unsigned: 1,
      forged: 2,
      "unknown-flow-run": 1,
      "no-flow-run": 1,
      "not-json": 1,
    });
    // One line each, naming the message and its sender (they are checked at once, so in any order).
    const byId = new Map(lines.map((line) => [String(line.message).match(/message (forged-\d)/)?.[1], line]));
    expect(
      [...byId].map(([id, line]) => [id, line.Function, line.Reason, line.RejectedMessages]).sort(),
    ).toEqual([
      ["forged-0", "worker", "unsigned", 1],
      ["forged-1", "worker", "forged", 1],
      ["forged-2", "worker", "forged", 1],
      ["forged-3", "worker", "unknown-flow-run", 1],
      ["forged-4", "worker", "no-flow-run", 1],
      ["forged-5", "worker", "not-json", 1],
    ]);
    expect(lines).toHaveLength(6);
    expect(byId.get("forged-0")?.message).toMatch(
      /^squall worker: rejected message forged-0 sent by AIDAEXAMPLEATTACKER \(unsigned\): it carries no signature .*It was deleted; nothing in it ran\.$/,
    );
    expect(byId.get("forged-3")?.message).toContain("has no key: no caller of this deployment started it");
  });

  it("fails the runs a signed but malformed message names, and counts and logs the ones it cannot name", async () => {
    const { tasks, completions, store, signer } = resources;
    const flowRunId = randomUUID();
    const body = (tasks: unknown[]) =>
      signer.sign(
        "tasks",
        flowRunId,
        JSON.stringify({ v: WIRE_VERSION, flowRunId, flowRunName: "r", flowName: "f", tasks }),
      );
    const worker = createTaskWorker({ tasks, completions, store });

    let response: unknown;
    const lines = await rejectionLines(async () => {
      response = await worker.handle(
        delivered([await body([{ taskRunId: "ab-1", attempt: 2 }, { task: "addToLedger" }]), await body([])]),
      );
    });

    expect(response).toEqual({ batchItemFailures: [] });
    const outcomes = await outcomesOf(completions);
    expect(outcomes.map((o) => [o.taskRunId, o.attempt, o.status])).toEqual([["ab-1", 2, "failed"]]);
    expect((decoded(outcomes[0]) as Error).message).toMatch(/^The task message could not be read: /);
    expect(worker.rejected()).toEqual({ malformed: 2 });
    expect(lines.map((line) => line.Reason)).toEqual(["malformed", "malformed"]);
    expect(lines[0]?.message).toMatch(
      /1 of its task runs name no task run id\. The 1 it names end Failed\.$/,
    );
  });

  it("signs what it sends on with the run's key: outcomes for the completion queue", async () => {
    const { tasks, completions, store, signer } = resources;
    const file = join(dir, "signed.txt");
    const flowRunId = randomUUID();
    const worker = createTaskWorker({ tasks, completions, store });

    await worker.handle(
      delivered([
        await signer.taskBody(
          taskMessage([taskRecord(MODULE, CODE_HASH, "addToLedger", [file, "a", 1])], flowRunId),
        ),
      ]),
    );

    const [message] = await completions.receive({ max: 10, waitSeconds: 0 });
    await completions.delete(message ? [message.receiptHandle] : []);
    const coordinator = createCoordinator({ store });
    expect(await coordinator.handle(delivered([message?.body ?? ""]))).toEqual({ batchItemFailures: [] });
    expect(coordinator.rejected()).toEqual({});
    expect((await readSummary(store, flowRunId))?.counts.completed).toBe(1);
  });
});

describe("a genuine task message sent again (replayed, or delivered twice)", () => {
  it("runs again, as a redelivery would, and changes nothing of the finished run's record", async () => {
    const { tasks, completions, store, signer } = resources;
    const file = join(dir, "replayed.txt");
    const flowRunId = randomUUID();
    const body = await signer.taskBody(
      taskMessage([taskRecord(MODULE, CODE_HASH, "addToLedger", [file, "once", 7])], flowRunId),
    );
    const worker = createTaskWorker({ tasks, completions, store });
    const coordinator = createCoordinator({ store });
    const relay = async () => {
      const messages = await completions.receive({ max: 10, waitSeconds: 0 });
      await completions.delete(messages.map((m) => m.receiptHandle));
      return coordinator.handle(delivered(messages.map((m) => m.body)));
    };
    await worker.handle(delivered([body]));
    await relay();
    await coordinator.handle(
      delivered([
        await signer.returnedBody({ flowRunId, flowName: "f", state: "Completed", tasks: 1, endedAt: 1 }),
      ]),
    );
    const before = await store.get(summaryKey(flowRunId));
    expect((await readSummary(store, flowRunId))?.state).toBe("Completed");

    await worker.handle(delivered([body]));
    await relay();

    expect(ledger(file)).toEqual(["once 7", "once 7"]);
    expect(await store.get(summaryKey(flowRunId))).toEqual(before);
    expect((await readSegments(store, flowRunId, 0)).segments).toHaveLength(2); // the outcome, then the notice
    expect(worker.rejected()).toEqual({});
    expect(coordinator.rejected()).toEqual({});
  });

  it("stores a large result under a key of its own execution: the recorded one is never overwritten", async () => {
    const { tasks, completions, store, signer } = resources;
    const flowRunId = randomUUID();
    const body = await signer.taskBody(
      taskMessage([taskRecord(MODULE, CODE_HASH, "largeNonce", [])], flowRunId),
    );
    const worker = createTaskWorker({ tasks, completions, store });

    await worker.handle(delivered([body]));
    const [first] = await outcomesOf(completions);
    await worker.handle(delivered([body]));
    const [second] = await outcomesOf(completions);

    const keyOf = (outcome: Outcome | undefined) =>
      outcome?.payload && "key" in outcome.payload ? outcome.payload.key : undefined;
    expect(keyOf(first)).toMatch(new RegExp(`^runs/${flowRunId}/results/[^/]+-1-[0-9a-f]{8}$`));
    expect(keyOf(second)).toMatch(new RegExp(`^runs/${flowRunId}/results/[^/]+-1-[0-9a-f]{8}$`));
    expect(keyOf(second)).not.toBe(keyOf(first));
    const stored = async (outcome: Outcome | undefined) =>
      defaultSerializer.deserialize((await store.get(keyOf(outcome) as string)) as Uint8Array);
    const [a, b] = [await stored(first), await stored(second)];
    expect(a).toMatch(/^[0-9a-f]{80000}$/);
    expect(b).toMatch(/^[0-9a-f]{80000}$/);
    expect(a).not.toBe(b);
  });
});

describe("the coordinator, given outcomes and notices nobody signed", () => {
  const outcome = (
    flowRunId: string,
    taskRunId: string,
    status: Outcome["status"] = "completed",
  ): Outcome => ({
    flowRunId,
    taskRunId,
    attempt: 1,
    status,
    serializer: "default",
    payload: { text: "J42" },
    startedAt: 1,
    endedAt: 2,
    logs: [],
  });
  const notice = (flowRunId: string, tasks: number): FlowReturned => ({
    flowRunId,
    flowName: "f",
    state: "Completed",
    tasks,
    endedAt: Date.now(),
  });
  const unsignedOutcomes = (flowRunId: string, outcomes: Outcome[]) =>
    JSON.stringify({ v: WIRE_VERSION, flowRunId, outcomes });
  const unsignedNotice = (returned: FlowReturned) =>
    JSON.stringify({ v: WIRE_VERSION, flowRunId: returned.flowRunId, returned });

  it("creates no record for a run nobody started, and changes nothing of a running one", async () => {
    const { store, signer } = resources;
    const running = randomUUID();
    const nobodys = randomUUID();
    const runKey = await signer.keyOf(running);
    const coordinator = createCoordinator({ store });
    await coordinator.handle(delivered([await signer.outcomesBody(running, [outcome(running, "ab-1")])]));

    const lines = await rejectionLines(() =>
      coordinator.handle(
        delivered([
          unsignedOutcomes(running, [outcome(running, "ab-2", "failed")]),
          seal(newRunKey(), "completions", unsignedOutcomes(running, [outcome(running, "ab-1", "failed")])),
          seal(runKey, "tasks", unsignedNotice(notice(running, 1))), // signed for the other queue
          seal(newRunKey(), "completions", unsignedOutcomes(nobodys, [outcome(nobodys, "cd-1")])),
          unsignedNotice(notice(nobodys, 0)),
        ]),
      ),
    );

    const summary = await readSummary(store, running);
    expect(summary?.counts).toEqual({ completed: 1, failed: 0, crashed: 0, cancelled: 0 });
    expect(summary?.state).toBeUndefined();
    expect(summary?.returned).toBeUndefined();
    const { segments } = await readSegments(store, running, 0);
    expect(segments.flatMap((s) => s.outcomes.map((o) => [o.taskRunId, o.status]))).toEqual([
      ["ab-1", "completed"],
    ]);
    expect(await store.list(`runs/${nobodys}/`)).toEqual([]);
    expect(coordinator.rejected()).toEqual({ unsigned: 2, forged: 2, "unknown-flow-run": 1 });
    // One line each, naming the message (they are checked at once, so in any order).
    const named = lines.map((line) => [String(line.message).match(/message (forged-\d)/)?.[1], line.Reason]);
    expect(named.sort()).toEqual([
      ["forged-0", "unsigned"],
      ["forged-1", "forged"],
      ["forged-2", "forged"],
      ["forged-3", "unknown-flow-run"],
      ["forged-4", "unsigned"],
    ]);
    expect(lines.every((line) => line.Function === "coordinator")).toBe(true);
  });

  it("leaves a finished run's summary as it was: forged outcomes rejected, replayed ones repeats", async () => {
    const { store, signer } = resources;
    const finished = randomUUID();
    const coordinator = createCoordinator({ store });
    const genuineOutcome = await signer.outcomesBody(finished, [outcome(finished, "ef-1")]);
    const genuineNotice = await signer.returnedBody(notice(finished, 1));
    await coordinator.handle(delivered([genuineOutcome, genuineNotice]));
    const before = await store.get(summaryKey(finished));
    expect((await readSummary(store, finished))?.state).toBe("Completed");

    await rejectionLines(() =>
      coordinator.handle(
        delivered([
          unsignedOutcomes(finished, [outcome(finished, "ef-2", "failed")]),
          seal(newRunKey(), "completions", unsignedOutcomes(finished, [outcome(finished, "ef-1", "failed")])),
          unsignedNotice({ ...notice(finished, 2), state: "Failed" }),
          genuineOutcome,
          genuineNotice,
        ]),
      ),
    );

    expect(await store.get(summaryKey(finished))).toEqual(before);
    expect((await readSegments(store, finished, 0)).segments).toHaveLength(1);
    expect(coordinator.rejected()).toEqual({ unsigned: 2, forged: 1 });
  });

  it("records no Crashed runs from a forged dead letter, and does from a genuine one", async () => {
    const { store, signer } = resources;
    const flowRunId = randomUUID();
    const dlq = "arn:aws:sqs:us-east-1:000000000000:tasks-dlq";
    const coordinator = createCoordinator({ store, deadLetterQueueArn: dlq });
    const message = taskMessage([taskRecord(MODULE, CODE_HASH, "addToLedger", ["x", "y", 1])], flowRunId);
    await signer.keyOf(flowRunId);

    await rejectionLines(() =>
      coordinator.handle(
        delivered([JSON.stringify(message), seal(newRunKey(), "tasks", JSON.stringify(message))], dlq),
      ),
    );
    expect(await readSummary(store, flowRunId)).toBeUndefined();

    await coordinator.handle(delivered([await signer.taskBody(message)], dlq));
    expect((await readSummary(store, flowRunId))?.counts.crashed).toBe(1);
    expect(coordinator.rejected()).toEqual({ unsigned: 1, forged: 1 });
  });
});
