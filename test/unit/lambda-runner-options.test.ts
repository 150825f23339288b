import { InvalidArgumentError } from "squall";
import { LambdaTaskRunner } from "squall/aws";
import { describe, expect, it } from "vitest";

describe("LambdaTaskRunner options", () => {
  it("refuses an option it does not know, which would otherwise do nothing, naming the ones it knows", () => {
    const address = { taskQueueUrl: "http://q/tasks", completionQueueUrl: "http://q/done", bucket: "b" };
    expect(() => new LambdaTaskRunner({ address } as never)).toThrow(InvalidArgumentError);
    expect(() => new LambdaTaskRunner({ address } as never)).toThrow(
      "Unknown LambdaTaskRunner option `address`. Known options: region, endpoint, taskQueueUrl, completionQueueUrl, bucket, workerTimeoutSeconds, callerSilenceSeconds, pools, flowQueueUrl, stack, local, keepLocal, tasksPerMessage, inlineArgBytes, follow.",
    );
  });

  it("takes an address spread into its options, with its own options beside it", () => {
    const address = {
      taskQueueUrl: "http://q/tasks",
      completionQueueUrl: "http://q/done",
      bucket: "b",
      region: "eu-west-1",
      flowQueueUrl: "http://q/flows",
      pools: {},
    };
    expect(() => new LambdaTaskRunner({ ...address, tasksPerMessage: 2 })).not.toThrow();
  });
});
