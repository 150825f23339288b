import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { InvocationRetries, retryWithin } from "../../sdk/aws/retry.js";

// A bucket that answers 500 to the first `failures` requests, then the object.
let server: Server;
let endpoint: string;
let failures = 0;
let requests = 0;
beforeAll(async () => {
  server = createServer((request, response) => {
    request.resume();
    requests += 1;
    if (requests <= failures) {
      response.writeHead(500, { "content-type": "application/xml" });
      response.end(
        "<?xml version='1.0' encoding='UTF-8'?><Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>",
      );
      return;
    }
    response.writeHead(200, { "content-type": "application/octet-stream", etag: '"1"' });
    response.end("value");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));
beforeEach(() => {
  requests = 0;
});

function client(retryStrategy?: InvocationRetries): S3Client {
  return new S3Client({
    region: "us-east-1",
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    retryStrategy,
  });
}

const get = (s3: S3Client) =>
  s3
    .send(new GetObjectCommand({ Bucket: "results", Key: "runs/a" }))
    .then((object) => object.Body?.transformToString());

describe("a function's retries", () => {
  it("gets through five internal errors in a row, where the SDK's standard mode gives up after three attempts", async () => {
    failures = 5;
    await expect(get(client())).rejects.toMatchObject({ name: "InternalError", $metadata: { attempts: 3 } });

    requests = 0;
    expect(await get(client(new InvocationRetries()))).toBe("value");
    expect(requests).toBe(6);
  });

  it("stops at its attempts", async () => {
    failures = 10;
    await expect(get(client(new InvocationRetries({ maxAttempts: 4 })))).rejects.toMatchObject({
      name: "InternalError",
      $metadata: { attempts: 4 },
    });
    expect(requests).toBe(4);
  });

  it("starts no attempt past the invocation's end", async () => {
    failures = 10;
    const retries = new InvocationRetries();
    retries.invocationEnds(Date.now() + 100); // within the margin: no time for another attempt

    await expect(get(client(retries))).rejects.toMatchObject({
      name: "InternalError",
      $metadata: { attempts: 1 },
    });
    expect(requests).toBe(1);
  });

  it("refuses attempts that are not a whole number of at least one", () => {
    expect(() => new InvocationRetries({ maxAttempts: 0 })).toThrow(
      "Expected `maxAttempts` to be an integer >= 1, got `0`",
    );
  });
});

describe("a step retried within an invocation", () => {
  it("runs the step again until it succeeds, up to four tries", async () => {
    let tries = 0;
    const value = await retryWithin(undefined, async () => {
      tries += 1;
      if (tries < 4) throw new Error(`failure ${tries}`);
      return "recorded";
    });

    expect([value, tries]).toEqual(["recorded", 4]);
  });

  it("throws the last error after four tries, or at once when the invocation has no time left", async () => {
    let tries = 0;
    const failing = async () => {
      tries += 1;
      throw new Error(`failure ${tries}`);
    };
    await expect(retryWithin(undefined, failing)).rejects.toThrow("failure 4");

    tries = 0;
    await expect(retryWithin(Date.now() + 500, failing)).rejects.toThrow("failure 1");
  });
});
