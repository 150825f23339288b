import * as v from "valibot";
import { describe, expect, it } from "vitest";
import {
  OutcomeMessageSchema,
  PayloadSchema,
  parseMessage,
  type TaskMessage,
  TaskMessageSchema,
  WIRE_VERSION,
} from "../../sdk/aws/wire/messages.js";
import { batchMessages, packCounts, packMessages, SQS_MAX_BATCH } from "../../sdk/aws/wire/pack.js";

function taskMessage(): TaskMessage {
  return {
    v: WIRE_VERSION,
    flowRunId: "f-1",
    flowRunName: "witty-otter",
    flowName: "greetings",
    tasks: [
      {
        taskRunId: "t-1",
        taskRunName: "sayHello-0",
        task: "sayHello",
        module: "file:///app/flows.js",
        codeHash: "abc",
        attempt: 1,
        serializer: "default",
        args: { text: 'J["arthur"]' },
        logPrints: false,
        tags: [],
      },
    ],
  };
}

describe("message schemas", () => {
  it("reads a task message that fits", () => {
    const parsed = parseMessage(TaskMessageSchema, JSON.stringify(taskMessage()));
    expect(parsed).toEqual({ ok: true, value: taskMessage() });
  });

  it("says why a message does not fit, naming where", () => {
    const bad = taskMessage() as unknown as { tasks: { attempt: unknown }[] };
    (bad.tasks[0] as { attempt: unknown }).attempt = 0;
    const parsed = parseMessage(TaskMessageSchema, JSON.stringify(bad));
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.reason).toMatch(
      /^the message does not fit its schema at `tasks\.0\.attempt`/,
    );
  });

  it("refuses text that is not JSON and a schema version it does not read", () => {
    expect(parseMessage(TaskMessageSchema, "{nope")).toMatchObject({ ok: false });
    const future = { ...taskMessage(), v: WIRE_VERSION + 1 };
    expect(parseMessage(TaskMessageSchema, JSON.stringify(future))).toEqual({
      ok: false,
      reason: `the message has schema version ${WIRE_VERSION + 1}; this worker reads ${WIRE_VERSION}`,
    });
  });

  it("reads an outcome message with logs, and refuses an unknown status", () => {
    const outcome = {
      v: WIRE_VERSION,
      flowRunId: "f-1",
      outcomes: [
        {
          flowRunId: "f-1",
          taskRunId: "t-1",
          attempt: 1,
          status: "completed",
          serializer: "default",
          payload: { text: "J42" },
          endedAt: 1,
          logs: [{ stream: "stdout", text: "hello arthur" }],
        },
      ],
    };
    expect(parseMessage(OutcomeMessageSchema, JSON.stringify(outcome)).ok).toBe(true);
    (outcome.outcomes[0] as { status: string }).status = "exploded";
    expect(parseMessage(OutcomeMessageSchema, JSON.stringify(outcome)).ok).toBe(false);
  });
});

describe("a payload cut short", () => {
  const stored = { key: "runs/f-1/results/t-1-1-0a1b2c3d", size: 307_212 };

  it("keeps where the whole value is stored, beside the inline copy", () => {
    expect(v.parse(PayloadSchema, { text: "Dshort", stored })).toEqual({ text: "Dshort", stored });
    expect(v.parse(PayloadSchema, { base64: "AAE=", stored })).toEqual({ base64: "AAE=", stored });
    expect(v.safeParse(PayloadSchema, { text: "Dshort", stored: { key: "", size: 1 } }).success).toBe(false);
  });

  it("reads as the inline copy alone where a reader predates `stored`", () => {
    const before = v.union([
      v.object({ text: v.string() }),
      v.object({ base64: v.string() }),
      v.object({ key: v.string(), size: v.number() }),
    ]);
    expect(v.parse(before, { text: "Dshort", stored })).toEqual({ text: "Dshort" });
  });
});

describe("packing", () => {
  const record = (i: number) => JSON.stringify({ taskRunId: `t-${i}`, pad: "x".repeat(90) });

  it("packs many records per message, in order, each message under the limit", () => {
    const records = Array.from({ length: 1_000 }, (_, i) => record(i));
    const bodies = packMessages('{"tasks":[', records, "]}", { maxMessageBytes: 10_000 });

    expect(bodies.length).toBeGreaterThan(1);
    expect(bodies.length).toBeLessThan(20);
    for (const body of bodies) expect(Buffer.byteLength(body)).toBeLessThanOrEqual(10_000);
    const unpacked = bodies.flatMap((body) => (JSON.parse(body) as { tasks: { taskRunId: string }[] }).tasks);
    expect(unpacked.map((task) => task.taskRunId)).toEqual(records.map((_, i) => `t-${i}`));
  });

  it("caps the records per message", () => {
    const bodies = packMessages("[", ["1", "2", "3", "4", "5"], "]", { maxRecords: 2 });
    expect(bodies).toEqual(["[1,2]", "[3,4]", "[5]"]);
  });

  it("tells how many records each message takes, as packMessages packs them", () => {
    const records = Array.from({ length: 1_000 }, (_, i) => record(i));
    const counts = packCounts('{"tasks":[', records, "]}", { maxMessageBytes: 10_000 });
    const bodies = packMessages('{"tasks":[', records, "]}", { maxMessageBytes: 10_000 });

    expect(counts.length).toBe(bodies.length);
    expect(bodies.map((body) => (JSON.parse(body) as { tasks: unknown[] }).tasks.length)).toEqual(counts);
    expect(packCounts("[", ["1", "2", "3", "4", "5"], "]", { maxRecords: 2 })).toEqual([2, 2, 1]);
  });

  it("refuses a record that cannot fit even alone", () => {
    expect(() => packMessages("[", ["x".repeat(100)], "]", { maxMessageBytes: 50 })).toThrow(RangeError);
  });

  it("groups bodies ten to a batch and under the batch byte limit", () => {
    const bodies = Array.from({ length: 25 }, (_, i) => `body-${i}`);
    expect(batchMessages(bodies).map((batch) => batch.length)).toEqual([SQS_MAX_BATCH, SQS_MAX_BATCH, 5]);
    expect(batchMessages(["a".repeat(60), "b".repeat(60), "c".repeat(60)], 150).map((b) => b.length)).toEqual(
      [2, 1],
    );
  });
});
