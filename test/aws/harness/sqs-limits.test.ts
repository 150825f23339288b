import { describe, expect, it } from "vitest";
import {
  checkSqsCall,
  firstInvalidCharacter,
  messageBytes,
  replaceInvalidCharacters,
  SQS_LIMITS,
} from "./sqs-limits.js";

const entry = (Id: string, MessageBody: string) => ({ Id, MessageBody });

describe("SQS's limits on what is sent", () => {
  it("allows exactly #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF in a body", () => {
    expect(firstInvalidCharacter("tab\there\r\n, \uD7FF\uE000\uFFFD and 🐳 (U+1F433)")).toBeUndefined();
    expect(firstInvalidCharacter("zaphod\uFFFF")).toBe(0xffff);
    expect(firstInvalidCharacter("\uFFFE")).toBe(0xfffe);
    expect(firstInvalidCharacter("bell\u0007")).toBe(0x7);
    expect(firstInvalidCharacter("lone \uD83D surrogate")).toBe(0xd83d);
    expect(firstInvalidCharacter("lone \uDC33")).toBe(0xdc33);
    expect(replaceInvalidCharacters("a\uFFFFb\uD83Dc🐳")).toBe("a\uFFFDb\uFFFDc🐳");
  });

  it("refuses a SendMessage with a character outside the set, or over 256 KiB with its attributes", () => {
    expect(checkSqsCall("SendMessage", { MessageBody: "zaphod\uFFFF" }, SQS_LIMITS)).toEqual({
      kind: "refuse",
      error: {
        status: 400,
        code: "InvalidMessageContents",
        message:
          "Invalid binary character '#xFFFF' was found in the message body, the set of allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF",
      },
    });
    expect(checkSqsCall("SendMessage", { MessageBody: "x".repeat(262_144) }, SQS_LIMITS)).toEqual({
      kind: "pass",
    });
    const attributes = { a: { DataType: "String", StringValue: "v" } };
    expect(messageBytes("x".repeat(262_136), attributes)).toBe(262_144);
    expect(
      checkSqsCall(
        "SendMessage",
        { MessageBody: "x".repeat(262_137), MessageAttributes: attributes },
        SQS_LIMITS,
      ),
    ).toMatchObject({
      kind: "refuse",
      error: {
        code: "InvalidParameterValue",
        message: "One or more parameters are invalid. Reason: Message must be shorter than 262144 bytes.",
      },
    });
  });

  it("refuses a batch call of more than 10 entries or 256 KiB in all, and fails only the entries with bad characters", () => {
    const eleven = Array.from({ length: 11 }, (_, i) => entry(String(i), "x"));
    expect(checkSqsCall("SendMessageBatch", { Entries: eleven }, SQS_LIMITS)).toMatchObject({
      kind: "refuse",
      error: {
        code: "TooManyEntriesInBatchRequest",
        message: "Maximum number of entries per request are 10. You have sent 11.",
      },
    });
    expect(checkSqsCall("DeleteMessageBatch", { Entries: eleven }, SQS_LIMITS)).toMatchObject({
      kind: "refuse",
    });
    const big = [entry("a", "x".repeat(200_000)), entry("b", "y".repeat(62_145))];
    expect(checkSqsCall("SendMessageBatch", { Entries: big }, SQS_LIMITS)).toMatchObject({
      kind: "refuse",
      error: {
        code: "BatchRequestTooLong",
        message: "Batch requests cannot be longer than 262144 bytes. You have sent 262145 bytes.",
      },
    });
    const mixed = [entry("good", "ok"), entry("bad", "no\uFFFF")];
    expect(checkSqsCall("SendMessageBatch", { Entries: mixed }, SQS_LIMITS)).toEqual({
      kind: "partial",
      keep: [entry("good", "ok")],
      failed: [
        {
          Id: "bad",
          SenderFault: true,
          Code: "InvalidMessageContents",
          Message: expect.stringContaining("'#xFFFF'"),
        },
      ],
    });
    expect(checkSqsCall("ReceiveMessage", { MaxNumberOfMessages: 11 }, SQS_LIMITS)).toMatchObject({
      kind: "refuse",
      error: { code: "InvalidParameterValue" },
    });
  });

  it("stores U+FFFD instead in replace mode, and lets everything through with the limits off", () => {
    const body = { Entries: [entry("a", "no\uFFFF")] };
    expect(checkSqsCall("SendMessageBatch", body, { ...SQS_LIMITS, characters: "replace" })).toEqual({
      kind: "pass",
    });
    expect(body.Entries[0]?.MessageBody).toBe("no\uFFFD");
    expect(checkSqsCall("SendMessage", { MessageBody: `${"x".repeat(300_000)}\uFFFF` }, {})).toEqual({
      kind: "pass",
    });
  });
});
