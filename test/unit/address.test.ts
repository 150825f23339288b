import { InvalidArgumentError, SquallError } from "squall";
import { addressFromEnv, addressFromStack } from "squall/aws";
import { describe, expect, it } from "vitest";
import { checkAddress, type SquallAddress } from "../../sdk/aws/address.js";
import { ownFunctionAddress } from "../../sdk/aws/own-address.js";
import { rejectionOf, thrownBy } from "../support/async.js";

const FULL = {
  SQUALL_REGION: "eu-west-1",
  SQUALL_ENDPOINT: "http://127.0.0.1:4566",
  SQUALL_TASK_QUEUE_URL: "http://127.0.0.1:4566/000000000000/squall-tasks",
  SQUALL_COMPLETION_QUEUE_URL: "http://127.0.0.1:4566/000000000000/squall-completions",
  SQUALL_BUCKET: "squall-results",
};

const ADDRESS: SquallAddress = {
  taskQueueUrl: "https://sqs.eu-west-1.amazonaws.com/123456789012/squall-tasks",
  completionQueueUrl: "https://sqs.eu-west-1.amazonaws.com/123456789012/squall-completions",
  bucket: "squall-results-123456789012",
};

describe("addressFromEnv", () => {
  it("gives no address when no SQUALL_* variable names a queue or the bucket", () => {
    expect(addressFromEnv({})).toBeUndefined();
    expect(addressFromEnv({ PATH: "/usr/bin", AWS_REGION: "eu-west-1" })).toBeUndefined();
    expect(
      addressFromEnv({ SQUALL_TASK_QUEUE_URL: "", SQUALL_COMPLETION_QUEUE_URL: "", SQUALL_BUCKET: "" }),
    ).toBeUndefined();
  });

  it("gives the address the variables spell out", () => {
    expect(addressFromEnv(FULL)).toEqual({
      region: "eu-west-1",
      endpoint: "http://127.0.0.1:4566",
      taskQueueUrl: FULL.SQUALL_TASK_QUEUE_URL,
      completionQueueUrl: FULL.SQUALL_COMPLETION_QUEUE_URL,
      bucket: "squall-results",
    });
  });

  it("leaves region and endpoint to the SDK when they are unset or empty", () => {
    const { SQUALL_REGION, SQUALL_ENDPOINT, ...queuesAndBucket } = FULL;

    expect(addressFromEnv(queuesAndBucket)).toEqual({
      region: undefined,
      endpoint: undefined,
      taskQueueUrl: FULL.SQUALL_TASK_QUEUE_URL,
      completionQueueUrl: FULL.SQUALL_COMPLETION_QUEUE_URL,
      bucket: "squall-results",
    });
    expect(addressFromEnv({ ...queuesAndBucket, SQUALL_REGION: "", SQUALL_ENDPOINT: "" })).toMatchObject({
      region: undefined,
      endpoint: undefined,
    });
  });

  it.each(["SQUALL_TASK_QUEUE_URL", "SQUALL_COMPLETION_QUEUE_URL", "SQUALL_BUCKET"] as const)(
    "refuses a partial address with %s missing, naming it",
    (variable) => {
      const { [variable]: _missing, ...partial } = FULL;

      const error = thrownBy(() => addressFromEnv(partial));

      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error.message).toContain(`but not ${variable}: set all of`);
    },
  );

  it("names the variable that is missing, and the ones that are set", () => {
    const { SQUALL_BUCKET: _missing, ...partial } = FULL;

    const error = thrownBy(() => addressFromEnv(partial));

    expect(error.message).toMatch(/^The environment sets .*SQUALL_TASK_QUEUE_URL.* but not SQUALL_BUCKET: /);
  });

  it("refuses a variable set to the empty string when the others are set", () => {
    const error = thrownBy(() => addressFromEnv({ ...FULL, SQUALL_BUCKET: "" }));

    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.message).toMatch(/but not SQUALL_BUCKET: /);
  });

  it("gives the worker's timeout SQUALL_WORKER_TIMEOUT_SECONDS says, and none when it is unset", () => {
    expect(addressFromEnv({ ...FULL, SQUALL_WORKER_TIMEOUT_SECONDS: "90" })?.workerTimeoutSeconds).toBe(90);
    expect(
      addressFromEnv({ ...FULL, SQUALL_WORKER_TIMEOUT_SECONDS: "" })?.workerTimeoutSeconds,
    ).toBeUndefined();
    expect(addressFromEnv(FULL)?.workerTimeoutSeconds).toBeUndefined();
  });

  it("gives the worker pools SQUALL_POOLS names, and refuses one it cannot read or a bad pool", () => {
    const pools = {
      large: { taskQueueUrl: "http://127.0.0.1:4566/000000000000/squall-large", workerTimeoutSeconds: 600 },
      "io-bound": { taskQueueUrl: "http://127.0.0.1:4566/000000000000/squall-io-bound" },
    };
    expect(addressFromEnv({ ...FULL, SQUALL_POOLS: JSON.stringify(pools) })?.pools).toEqual(pools);
    expect(addressFromEnv(FULL)?.pools).toBeUndefined();
    expect(thrownBy(() => addressFromEnv({ ...FULL, SQUALL_POOLS: "{large" })).message).toBe(
      'Expected SQUALL_POOLS to be JSON naming the worker pools, e.g. {"large":{"taskQueueUrl":"https://...","workerTimeoutSeconds":900}}, got `{large`.',
    );
    expect(
      thrownBy(() => addressFromEnv({ ...FULL, SQUALL_POOLS: '{"default":{"taskQueueUrl":"http://q"}}' }))
        .message,
    ).toBe(
      "Expected each pool in the environment (SQUALL_*) to be named with lowercase letters, digits and `-`, starting with a letter, up to 32, and not `default`, got `default`",
    );
    expect(thrownBy(() => addressFromEnv({ ...FULL, SQUALL_POOLS: '{"large":{}}' })).message).toBe(
      "Expected pool `large` in the environment (SQUALL_*) to have a `taskQueueUrl`, got `{}`",
    );
  });

  it.each(["sixty", "0", "-5"])(
    "refuses SQUALL_WORKER_TIMEOUT_SECONDS=%s, saying what it should be",
    (value) => {
      const error = thrownBy(() => addressFromEnv({ ...FULL, SQUALL_WORKER_TIMEOUT_SECONDS: value }));

      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error.message).toBe(
        `Expected SQUALL_WORKER_TIMEOUT_SECONDS to be the worker function's timeout in seconds, got \`${value}\`.`,
      );
    },
  );

  it("gives the deployment's bound on a caller's silence SQUALL_CALLER_SILENCE_SECONDS says, and none when it is unset", () => {
    expect(addressFromEnv({ ...FULL, SQUALL_CALLER_SILENCE_SECONDS: "90" })?.callerSilenceSeconds).toBe(90);
    expect(addressFromEnv(FULL)?.callerSilenceSeconds).toBeUndefined();
  });

  it.each([
    [
      "ninety",
      "Expected SQUALL_CALLER_SILENCE_SECONDS to be how long a caller may go silent, in seconds, got `ninety`.",
    ],
    [
      "0",
      "Expected SQUALL_CALLER_SILENCE_SECONDS to be how long a caller may go silent, in seconds, got `0`.",
    ],
    [
      "1.5",
      "Expected `callerSilenceSeconds` in the environment (SQUALL_*) to be how long a caller may go silent, in seconds (an integer >= 1), got `1.5`",
    ],
  ])("refuses SQUALL_CALLER_SILENCE_SECONDS=%s, saying what it should be", (value, message) => {
    const error = thrownBy(() => addressFromEnv({ ...FULL, SQUALL_CALLER_SILENCE_SECONDS: value }));

    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.message).toBe(message);
  });

  it("gives the flow queue SQUALL_FLOW_QUEUE_URL names, and none when it is unset or empty", () => {
    const flowQueueUrl = "http://127.0.0.1:4566/000000000000/squall-flows";
    expect(addressFromEnv({ ...FULL, SQUALL_FLOW_QUEUE_URL: flowQueueUrl })?.flowQueueUrl).toBe(flowQueueUrl);
    expect(addressFromEnv({ ...FULL, SQUALL_FLOW_QUEUE_URL: "" })?.flowQueueUrl).toBeUndefined();
    expect(addressFromEnv(FULL)?.flowQueueUrl).toBeUndefined();
  });

  it("refuses an endpoint that is not an http(s) URL", () => {
    const error = thrownBy(() => addressFromEnv({ ...FULL, SQUALL_ENDPOINT: "127.0.0.1:4566" }));

    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.message).toContain("Expected `endpoint` in the environment");
    expect(error.message).toContain("to be an http(s) URL, got `127.0.0.1:4566`");
  });
});

describe("checkAddress", () => {
  it("gives back a whole address as it is", () => {
    const address = { ...ADDRESS, region: "eu-west-1", endpoint: "https://localhost:4566" };
    expect(checkAddress(address)).toBe(address);
  });

  it("refuses an address without a bucket, saying where it came from", () => {
    const { bucket: _bucket, ...noBucket } = ADDRESS;

    const error = thrownBy(() => checkAddress(noBucket as SquallAddress));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.message).toBe(
      "Expected `bucket` in the address, got `undefined`. Give taskQueueUrl, completionQueueUrl and bucket, or { stack }, or nothing for the local environment.",
    );

    const named = thrownBy(() => checkAddress({ ...ADDRESS, bucket: "" }, "the outputs of stack 'Squall'"));
    expect(named.message).toMatch(/^Expected `bucket` in the outputs of stack 'Squall', got ``\./);
  });

  it("refuses a worker timeout that is not a number of seconds above 0", () => {
    for (const workerTimeoutSeconds of [0, Number.NaN, "60"]) {
      const error = thrownBy(() =>
        checkAddress({ ...ADDRESS, workerTimeoutSeconds } as unknown as SquallAddress, "the options"),
      );

      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error.message).toBe(
        `Expected \`workerTimeoutSeconds\` in the options to be the worker function's timeout in seconds, got \`${String(workerTimeoutSeconds)}\``,
      );
    }
  });

  it("takes an address with or without a flow queue, and refuses one that is not a URL's text", () => {
    const flowQueueUrl = "https://sqs.eu-west-1.amazonaws.com/123456789012/squall-flows";
    expect(checkAddress({ ...ADDRESS, flowQueueUrl }).flowQueueUrl).toBe(flowQueueUrl);
    expect(checkAddress(ADDRESS).flowQueueUrl).toBeUndefined();
    for (const bad of ["", 42]) {
      const error = thrownBy(() =>
        checkAddress({ ...ADDRESS, flowQueueUrl: bad } as unknown as SquallAddress, "the options"),
      );
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error.message).toBe(
        `Expected \`flowQueueUrl\` in the options to be the flow queue's URL, got \`${String(bad)}\``,
      );
    }
  });

  it("refuses a queue URL that is not a string", () => {
    const error = thrownBy(() => checkAddress({ ...ADDRESS, taskQueueUrl: 42 as unknown as string }));

    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.message).toMatch(/^Expected `taskQueueUrl` in the address, got `42`/);
  });

  it.each(["localhost:4566", "ftp://127.0.0.1:4566", "127.0.0.1", ""])(
    "refuses the endpoint %j, which is not an http(s) URL",
    (endpoint) => {
      const error = thrownBy(() => checkAddress({ ...ADDRESS, endpoint }));

      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error.message).toBe(
        `Expected \`endpoint\` in the address to be an http(s) URL, got \`${endpoint}\``,
      );
    },
  );
});

describe("ownFunctionAddress", () => {
  const IN_LAMBDA = { ...FULL, AWS_LAMBDA_FUNCTION_NAME: "Squall-FlowRunner", SQUALL_STACK_NAME: "Squall" };
  const OWN = addressFromEnv(FULL);

  it("gives the function's own address in Lambda, with no stack or its own stack named", () => {
    expect(ownFunctionAddress(undefined, IN_LAMBDA)).toEqual(OWN);
    expect(ownFunctionAddress("Squall", IN_LAMBDA)).toEqual(OWN);
    expect(
      ownFunctionAddress("arn:aws:cloudformation:eu-west-1:123456789012:stack/Squall/0f1e2d3c", IN_LAMBDA),
    ).toEqual(OWN);
  });

  it("gives nothing outside Lambda, or where the function's variables give no whole address", () => {
    const { AWS_LAMBDA_FUNCTION_NAME: _outside, ...notInLambda } = IN_LAMBDA;
    const { SQUALL_BUCKET: _missing, ...partial } = IN_LAMBDA;

    expect(ownFunctionAddress("Squall", notInLambda)).toBeUndefined();
    expect(ownFunctionAddress(undefined, notInLambda)).toBeUndefined();
    expect(ownFunctionAddress("Squall", partial)).toBeUndefined();
  });

  it("leaves a named stack to be read when the function does not say which stack it is in", () => {
    const { SQUALL_STACK_NAME: _unknown, ...unnamed } = IN_LAMBDA;

    expect(ownFunctionAddress("Squall", unnamed)).toBeUndefined();
    expect(ownFunctionAddress(undefined, unnamed)).toEqual(OWN);
  });

  it("refuses another stack, naming the function, its stack and what to do", () => {
    const error = thrownBy(() => ownFunctionAddress("SquallStaging", IN_LAMBDA));

    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.message).toBe(
      `LambdaTaskRunner({ stack: "SquallStaging" }) runs in Lambda function 'Squall-FlowRunner' of stack 'Squall', which reaches only its own stack's queues and bucket. Name its own stack ("Squall") or leave \`stack\` out to run the tasks there; to run them on 'SquallStaging', start the flow with that stack's flow-runner.`,
    );
    expect(() =>
      ownFunctionAddress("arn:aws:cloudformation:eu-west-1:1:stack/Squalls/0f", IN_LAMBDA),
    ).toThrow(InvalidArgumentError);
  });
});

describe("addressFromStack", () => {
  it("fails against an endpoint that does not answer, naming the stack and how to deploy it", async () => {
    const started = Date.now();

    const error = await rejectionOf(
      addressFromStack("SquallNowhere", { region: "eu-west-1", endpoint: "http://127.0.0.1:9" }),
    );

    expect(error).toBeInstanceOf(SquallError);
    expect(error.message).toMatch(/^Could not read stack 'SquallNowhere' \(.+\)\. /);
    expect(error.message).toContain("Deploy it with `npx cdk deploy`");
    expect(error.cause).toBeInstanceOf(Error);
    // The SDK's retries against a refused connection stay short (reported, not tuned, if not).
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("refuses a stack whose outputs lack the queues and bucket, naming the stack", async () => {
    // An emulator that answers DescribeStacks with a stack without outputs.
    const { createServer } = await import("node:http");
    const server = createServer((_, response) => {
      response.writeHead(200, { "content-type": "text/xml" });
      response.end(
        `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member><StackName>Bare</StackName><StackStatus>CREATE_COMPLETE</StackStatus><CreationTime>2026-01-01T00:00:00Z</CreationTime></member></Stacks></DescribeStacksResult></DescribeStacksResponse>`,
      );
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    try {
      const error = await rejectionOf(addressFromStack("Bare", { endpoint: `http://127.0.0.1:${port}` }));

      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error.message).toMatch(
        /^Expected `taskQueueUrl` in the outputs of stack 'Bare', got `undefined`/,
      );
    } finally {
      server.close();
    }
  });

  it("reads the queues, bucket and worker pools from a deployed stack's outputs", async () => {
    const outputs = [
      ["TaskQueueUrl", "https://sqs.eu-west-1.amazonaws.com/123456789012/tasks"],
      ["CompletionQueueUrl", "https://sqs.eu-west-1.amazonaws.com/123456789012/completions"],
      ["BucketName", "squall-results"],
      ["WorkerTimeoutSeconds", "120"],
      ["Region", "eu-west-1"],
      [
        "PoolLarge",
        '{"name":"large","taskQueueUrl":"https://sqs.eu-west-1.amazonaws.com/123456789012/large","workerTimeoutSeconds":600}',
      ],
      [
        "PoolIoBound",
        '{"name":"io-bound","taskQueueUrl":"https://sqs.eu-west-1.amazonaws.com/123456789012/io","workerTimeoutSeconds":60}',
      ],
    ]
      .map(
        ([key, value]) => `<member><OutputKey>${key}</OutputKey><OutputValue>${value}</OutputValue></member>`,
      )
      .join("");
    const { createServer } = await import("node:http");
    let asked = "";
    const server = createServer((request, response) => {
      let body = "";
      request.on("data", (chunk) => {
        body += chunk;
      });
      request.on("end", () => {
        asked = body;
        response.writeHead(200, { "content-type": "text/xml" });
        response.end(
          `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member><StackName>Squall</StackName><StackStatus>CREATE_COMPLETE</StackStatus><CreationTime>2026-01-01T00:00:00Z</CreationTime><Outputs>${outputs}</Outputs></member></Stacks></DescribeStacksResult></DescribeStacksResponse>`,
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    try {
      const endpoint = `http://127.0.0.1:${port}`;
      const address = await addressFromStack("Squall", { endpoint, region: "eu-west-1" });

      expect(asked).toContain("Action=DescribeStacks");
      expect(asked).toContain("StackName=Squall");
      expect(address).toEqual({
        region: "eu-west-1",
        endpoint,
        taskQueueUrl: "https://sqs.eu-west-1.amazonaws.com/123456789012/tasks",
        completionQueueUrl: "https://sqs.eu-west-1.amazonaws.com/123456789012/completions",
        bucket: "squall-results",
        workerTimeoutSeconds: 120,
        pools: {
          large: {
            taskQueueUrl: "https://sqs.eu-west-1.amazonaws.com/123456789012/large",
            workerTimeoutSeconds: 600,
          },
          "io-bound": {
            taskQueueUrl: "https://sqs.eu-west-1.amazonaws.com/123456789012/io",
            workerTimeoutSeconds: 60,
          },
        },
      });
    } finally {
      server.close();
    }
  });
});

describe("addressFromStack, with a flow queue", () => {
  it("reads the flow queue from the FlowQueueUrl output", async () => {
    const outputs = [
      ["TaskQueueUrl", "https://sqs.eu-west-1.amazonaws.com/123456789012/tasks"],
      ["CompletionQueueUrl", "https://sqs.eu-west-1.amazonaws.com/123456789012/completions"],
      ["BucketName", "squall-results"],
      ["FlowQueueUrl", "https://sqs.eu-west-1.amazonaws.com/123456789012/flows"],
    ]
      .map(
        ([key, value]) => `<member><OutputKey>${key}</OutputKey><OutputValue>${value}</OutputValue></member>`,
      )
      .join("");
    const { createServer } = await import("node:http");
    const server = createServer((request, response) => {
      request.resume();
      request.on("end", () => {
        response.writeHead(200, { "content-type": "text/xml" });
        response.end(
          `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member><StackName>Squall</StackName><StackStatus>CREATE_COMPLETE</StackStatus><CreationTime>2026-01-01T00:00:00Z</CreationTime><Outputs>${outputs}</Outputs></member></Stacks></DescribeStacksResult></DescribeStacksResponse>`,
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    try {
      const address = await addressFromStack("Squall", {
        endpoint: `http://127.0.0.1:${port}`,
        region: "eu-west-1",
      });

      expect(address.flowQueueUrl).toBe("https://sqs.eu-west-1.amazonaws.com/123456789012/flows");
    } finally {
      server.close();
    }
  });
});

describe("squall/aws in its user's process", () => {
  it("leaves the AWS SDK's warnings alone: it sets nothing in process.env for the user's own clients", () => {
    // Imported at the top of this file: loading squall/aws must not have set the SDK's switch.
    expect(process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED).toBeUndefined();
  });
});
