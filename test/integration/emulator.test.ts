import { randomUUID } from "node:crypto";
import { connect } from "node:net";
import { networkInterfaces } from "node:os";
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { InvalidArgumentError } from "squall";
import { startEmulator } from "squall/aws";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

const endpoint = inject("emulatorEndpoint");
const bucket = `squall-emulator-${randomUUID().slice(0, 8)}`;
const client = new S3Client({
  endpoint,
  region: "us-east-1",
  forcePathStyle: true,
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
});

beforeAll(async () => {
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
});
afterAll(() => client.destroy());

/** Resolves to how a TCP connection to host:port ends: "connected" or the error code. */
function tryConnect(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

/** The error a rejected S3 call threw, to look at its name, status and message. */
async function failureOf(call: Promise<unknown>): Promise<S3ServiceException> {
  try {
    await call;
  } catch (error) {
    if (error instanceof S3ServiceException) return error;
    throw error;
  }
  throw new Error("Expected the S3 call to fail, but it succeeded");
}

const put = (key: string, body: string, condition: { IfMatch?: string; IfNoneMatch?: string } = {}) =>
  client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ...condition }));

const read = async (key: string) =>
  (await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body?.transformToString();

describe("the embedded emulator", () => {
  it("listens on 127.0.0.1 and on no other address of this machine", async () => {
    const url = new URL(endpoint);
    const port = Number(url.port);

    expect(url.hostname).toBe("127.0.0.1");
    expect(await tryConnect("127.0.0.1", port)).toBe("connected");
    const external = Object.values(networkInterfaces())
      .flat()
      .filter((address) => address !== undefined && !address.internal && address.family === "IPv4")
      .map((address) => address?.address as string);
    for (const address of external) {
      expect({ address, outcome: await tryConnect(address, port) }).toEqual({
        address,
        outcome: "ECONNREFUSED",
      });
    }
  });

  it("answers If-Match with a wrong ETag with 412 PreconditionFailed and keeps the object", async () => {
    await put("summary", "version 1");

    const failure = await failureOf(
      put("summary", "version 2", { IfMatch: '"0123456789abcdef0123456789abcdef"' }),
    );

    expect(failure.name).toBe("PreconditionFailed");
    expect(failure.$metadata.httpStatusCode).toBe(412);
    expect(failure.message).toBe("At least one of the pre-conditions you specified did not hold");
    expect(await read("summary")).toBe("version 1");
  });

  it("replaces the object when If-Match carries its current ETag, and only once per ETag", async () => {
    const { ETag } = await put("counter", "1");

    const second = await put("counter", "2", { IfMatch: ETag });
    const stale = await failureOf(put("counter", "2 again", { IfMatch: ETag }));

    expect(second.ETag).not.toBe(ETag);
    expect(stale.$metadata.httpStatusCode).toBe(412);
    expect(await read("counter")).toBe("2");
  });

  it("answers If-Match on a missing key with 404 NoSuchKey and stores nothing", async () => {
    const failure = await failureOf(
      put("never-written", "x", { IfMatch: '"0123456789abcdef0123456789abcdef"' }),
    );

    expect(failure.name).toBe("NoSuchKey");
    expect(failure.$metadata.httpStatusCode).toBe(404);
    const head = await failureOf(
      client.send(new HeadObjectCommand({ Bucket: bucket, Key: "never-written" })),
    );
    expect(head.$metadata.httpStatusCode).toBe(404);
  });

  it("answers If-None-Match: * with 412 when the key exists, and creates it when it does not", async () => {
    const created = await put("segment/1", "first", { IfNoneMatch: "*" });
    const again = await failureOf(put("segment/1", "second", { IfNoneMatch: "*" }));

    expect(created.$metadata.httpStatusCode).toBe(200);
    expect(again.name).toBe("PreconditionFailed");
    expect(again.$metadata.httpStatusCode).toBe(412);
    expect(await read("segment/1")).toBe("first");
  });

  it("keeps the content type and metadata of a conditional PUT", async () => {
    await client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: "with-metadata",
        Body: "{}",
        ContentType: "application/json",
        Metadata: { schema: "v1" },
        IfNoneMatch: "*",
      }),
    );

    const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: "with-metadata" }));
    expect(object.ContentType).toBe("application/json");
    expect(object.Metadata).toEqual({ schema: "v1" });
    expect(await object.Body?.transformToString()).toBe("{}");
  });
});

describe("startEmulator", () => {
  it("starts an emulator of its own that serves S3 until it is stopped", async () => {
    const emulator = await startEmulator();
    const own = emulator.s3Client();
    const port = Number(new URL(emulator.endpoint).port);
    try {
      expect(emulator.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(emulator.endpoint).not.toBe(endpoint);
      expect(emulator.region).toBe("us-east-1");
      await emulator.createBucket("own");
      await emulator.createBucket("own"); // creating it again does nothing
      await own.send(new PutObjectCommand({ Bucket: "own", Key: "k", Body: "v" }));
      const object = await own.send(new GetObjectCommand({ Bucket: "own", Key: "k" }));
      expect(await object.Body?.transformToString()).toBe("v");
    } finally {
      own.destroy();
      await emulator.stop();
    }

    expect(await tryConnect("127.0.0.1", port)).toBe("ECONNREFUSED");
    await emulator.stop(); // stopping twice is harmless
  });

  it.each([-1, 1.5, 70_000])("rejects the port %j", async (port) => {
    await expect(startEmulator({ port })).rejects.toThrow(
      new InvalidArgumentError(`Expected \`port\` to be an integer from 0 to 65535, got \`${port}\``),
    );
  });
});
