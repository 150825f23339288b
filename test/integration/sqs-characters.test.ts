// SQS refuses a message body holding a character outside XML's (U+FFFE and U+FFFF among them),
// and the embedded emulator refuses it too (and characters above U+FFFF, which SQS takes). squall
// escapes them in what it sends, so a task's arguments, result and names may hold any string.
import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { configureLogging, flow, resetLogging } from "squall";
import { LambdaTaskRunner, type LocalEnvironment, startLocalEnvironment } from "squall/aws";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { sqsSafeJson } from "../../sdk/aws/wire/sqs-text.js";
import { withNoncharacter } from "../fixtures/ledger-tasks.js";

beforeEach(() => configureLogging({ write: () => {} }));
afterEach(() => resetLogging());

let local: LocalEnvironment;
let sqs: SQSClient;

beforeAll(async () => {
  local = await startLocalEnvironment({ workers: 1 });
  sqs = local.emulator.sqsClient();
}, 30_000);
afterAll(async () => {
  sqs?.destroy();
  await local?.stop();
});

describe("characters SQS refuses in a message body", () => {
  it("are refused by the embedded emulator as SQS refuses them", async () => {
    const send = (body: string) =>
      sqs.send(new SendMessageCommand({ QueueUrl: local.address.taskQueueUrl, MessageBody: body }));

    for (const body of ["a\uFFFFb", "\uFFFE", "a\u0001b", "x\uD800y"]) {
      const error = await send(body).catch((thrown: Error) => thrown);
      expect((error as Error).name).toMatch(/InvalidMessageContents$/);
    }
  });

  it("escapes them in JSON, the value unchanged", () => {
    const value = { text: "a\uFFFEb\uFFFF\u{1F600}", plain: "x\u00e9\uFFFD" };
    const escaped = sqsSafeJson(JSON.stringify(value));

    // Characters above U+FFFF too: SQS takes them, the embedded emulator does not.
    expect(escaped).toBe('{"text":"a\\ufffeb\\uffff\\ud83d\\ude00","plain":"x\u00e9\uFFFD"}');
    expect(JSON.parse(escaped)).toEqual(value);
    expect(sqsSafeJson('{"plain":"x"}')).toBe('{"plain":"x"}');
  });

  it("may stand in a task's arguments, its result and its flow's name on the Lambda runner", async () => {
    const runner = new LambdaTaskRunner(local.address);
    const shout = flow({ name: "shout\uFFFE", taskRunner: runner }, async function shout(text: string) {
      return withNoncharacter.submit(text).result();
    });

    expect(await shout("\uFFFEhi\uFFFF \u{1F600}")).toBe("\uFFFEhi\uFFFF \u{1F600}\uFFFF");
  }, 30_000);
});
