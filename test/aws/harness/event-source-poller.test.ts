import { describe, expect, it } from "vitest";
import { failedItems, sqsRecord } from "./event-source-poller.js";

describe("the event source mapping's reading of a partial batch response", () => {
  const batch = new Set(["m1", "m2"]);

  it("takes the reported items, and an empty or missing report as all succeeded", () => {
    expect(failedItems(JSON.stringify({ batchItemFailures: [{ itemIdentifier: "m2" }] }), batch)).toEqual(
      new Set(["m2"]),
    );
    expect(failedItems(JSON.stringify({ batchItemFailures: [] }), batch)).toEqual(new Set());
    expect(failedItems("null", batch)).toEqual(new Set());
    expect(failedItems("{}", batch)).toEqual(new Set());
  });

  it("fails the whole batch on a report Lambda cannot use", () => {
    expect(failedItems(JSON.stringify({ batchItemFailures: [{ itemIdentifier: "m9" }] }), batch)).toBe(
      "invalid",
    );
    expect(failedItems(JSON.stringify({ batchItemFailures: [{ itemIdentifier: "" }] }), batch)).toBe(
      "invalid",
    );
    expect(failedItems(JSON.stringify({ batchItemFailures: [{}] }), batch)).toBe("invalid");
    expect(failedItems(JSON.stringify({ batchItemFailures: "m1" }), batch)).toBe("invalid");
  });

  it("builds records as Lambda's SQS event carries them", () => {
    const record = sqsRecord(
      {
        MessageId: "m1",
        ReceiptHandle: "r1",
        Body: "hi",
        MD5OfBody: "49f68a5c8493ec2c0bf489821c21fc3b",
        Attributes: {
          ApproximateReceiveCount: "3",
          SentTimestamp: "1",
          SenderId: "AROA:x",
          ApproximateFirstReceiveTimestamp: "2",
        },
      },
      "arn:aws:sqs:us-east-1:000000000000:q",
      "us-east-1",
    );
    expect(record).toEqual({
      messageId: "m1",
      receiptHandle: "r1",
      body: "hi",
      attributes: {
        ApproximateReceiveCount: "3",
        SentTimestamp: "1",
        SenderId: "AROA:x",
        ApproximateFirstReceiveTimestamp: "2",
      },
      messageAttributes: {},
      md5OfBody: "49f68a5c8493ec2c0bf489821c21fc3b",
      eventSource: "aws:sqs",
      eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:q",
      awsRegion: "us-east-1",
    });
  });
});
