// What resuming a durable flow run costs: a run whose `n` task runs have finished is taken over
// by a new flow-runner invocation (as the sweep or the flow queue's redelivery would after its
// flow-runner died), which runs the flow function again until it is where the run was (its
// sleep), and hands the run on. Measured: the time from the resume message to that handoff (the
// replay; after it, the first new task would be sent), and every request the resuming invocation
// makes, by command, against the number of the record's segments. The flow-runner runs in this
// process (its handler, as Lambda calls it), so its SDK clients are this thread's and counted.
import { randomUUID } from "node:crypto";
import { CreateQueueCommand, SQSClient } from "@aws-sdk/client-sqs";
import { startLocalEnvironment } from "squall/aws";
import { ADDRESS_VARIABLES } from "../sdk/aws/address.js";
import { FLOW_QUEUE_VARIABLE, FLOWS_VARIABLE, flowRunnerHandler } from "../sdk/aws/handlers.js";
import { readSegments } from "../sdk/aws/record/run-log.js";
import { bucketStore } from "../sdk/aws/records/bucket-runs.js";
import { WIRE_VERSION } from "../sdk/aws/wire/messages.js";
import { readRunKey } from "../sdk/aws/wire/run-key.js";
import { seal } from "../sdk/aws/wire/seal.js";
import { countSdkRequests, type Tally } from "./count-requests.js";

const SIZES = [1_000, 10_000];

export interface ResumeFigures {
  readonly runs: {
    readonly tasks: number;
    readonly segments: number;
    /** From the resume message to the handoff at the sleep. */
    readonly replayMs: number;
    readonly requests: Tally;
  }[];
}

export async function benchDurableResume(): Promise<ResumeFigures> {
  const local = await startLocalEnvironment({ workers: 2 });
  const { address } = local;
  const sqs = new SQSClient({
    endpoint: address.endpoint,
    region: address.region,
    credentials: { accessKeyId: "bench", secretAccessKey: "bench" },
  });
  try {
    const created = await sqs.send(new CreateQueueCommand({ QueueName: `squall-flows-bench-${Date.now()}` }));
    const env: Record<string, string> = {
      ...(process.env as Record<string, string>),
      [ADDRESS_VARIABLES.taskQueueUrl]: address.taskQueueUrl,
      [ADDRESS_VARIABLES.completionQueueUrl]: address.completionQueueUrl,
      [ADDRESS_VARIABLES.bucket]: address.bucket,
      [ADDRESS_VARIABLES.endpoint]: address.endpoint,
      [ADDRESS_VARIABLES.region]: address.region,
      [FLOW_QUEUE_VARIABLE]: created.QueueUrl as string,
      [FLOWS_VARIABLE]: new URL("./durable-flows.ts", import.meta.url).href,
    };
    Object.assign(process.env, env); // the flows' LambdaTaskRunner() reads its address from here
    await import("./durable-flows.js");
    const handler = flowRunnerHandler({ env });
    const { s3, store } = bucketStore(address);
    const runs: ResumeFigures["runs"][number][] = [];
    const counter = countSdkRequests();
    for (const tasks of SIZES) {
      const flowRunId = randomUUID();
      // Its first invocation runs the tasks, reaches the sleep and hands the run on.
      await handler({ flow: "finishedThenSleep", parameters: [tasks], flowRunId }, lasting(600_000)).catch(
        () => {},
      );
      const key = (await readRunKey((k) => store.get(k), flowRunId))?.key as Uint8Array;
      const body = seal(
        key,
        "flows",
        JSON.stringify({ v: WIRE_VERSION, flowRunId, resume: { from: 0, reason: "sweep" } }),
      );
      counter.take(); // the first invocation's, not the resume's
      const began = performance.now();
      await handler({ Records: [{ messageId: `resume-${tasks}`, body }] }, lasting(600_000));
      const replayMs = performance.now() - began;
      const requests = counter.take();
      const { next: segments } = await readSegments(store, flowRunId, 0);
      runs.push({ tasks, segments, replayMs, requests });
    }
    counter.stop();
    s3.destroy();
    return { runs };
  } finally {
    sqs.destroy();
    await local.stop();
  }
}

function lasting(ms: number) {
  const end = Date.now() + ms;
  return { getRemainingTimeInMillis: () => end - Date.now() };
}

export function reportDurableResume(f: ResumeFigures): string {
  const total = (t: Tally) => [...t.values()].reduce((a, b) => a + b, 0);
  const of = (t: Tally, name: string) => t.get(name) ?? 0;
  return [
    "| finished task runs | segments | replay to handoff | requests | S3 GetObject | S3 PutObject | SQS SendMessageBatch | by command |",
    "|---|---|---|---|---|---|---|---|",
    ...f.runs.map(
      (r) =>
        `| ${r.tasks.toLocaleString("en")} | ${r.segments} | ${Math.round(r.replayMs)} ms | ${total(r.requests)} | ${of(r.requests, "S3 GetObject")} | ${of(r.requests, "S3 PutObject")} | ${of(r.requests, "SQS SendMessageBatch")} | ${[...r.requests].map(([k, n]) => `${k} ${n}`).join(", ")} |`,
    ),
  ].join("\n");
}
