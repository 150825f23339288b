import * as v from "valibot";
import { InvalidArgumentError, SquallError } from "../../errors.js";
import { newFlowRunId, newFlowRunName } from "../../ids.js";
import { type FlowStarter, flowNames, registeredFlow } from "../../registry.js";
import { Journal } from "../durable/journal.js";
import { writeStartRecord } from "../durable/start-record.js";
import { markRunOpen } from "../record/open-runs.js";
import { RUN_ID_PATTERN } from "../wire/messages.js";
import { newRunKey, storeRunKey } from "../wire/run-key.js";
import { DRIVER_ID, driveRun } from "./driver.js";
import { type Durability, endRunFailed } from "./durability.js";
import { type AnswerOptions, type FlowRunnerResult, invokeAnswer } from "./invoke-answer.js";
import { isFlowQueueEvent, resumeRuns } from "./resume.js";

/** What the flow-runner function is invoked with. */
export const FlowRunnerEventSchema = v.object({
  /** The flow's name, as `flow()` named it. */
  flow: v.pipe(v.string(), v.minLength(1)),
  /** JSON: an array is the flow's arguments; anything else its one argument. @default no arguments */
  parameters: v.optional(v.unknown()),
  /** The new run's id, chosen by whoever starts it (so it can follow the run at once). @default a new UUID */
  flowRunId: v.optional(
    v.pipe(v.string(), v.regex(RUN_ID_PATTERN, "Expected 1 to 128 letters, digits, `_` or `-`")),
  ),
  /** The schedule starting it, which its start record keeps. */
  schedule: v.optional(v.string()),
});
export type FlowRunnerEvent = v.InferOutput<typeof FlowRunnerEventSchema>;

export type { FlowRunnerResult };

/** The Lambda context, as far as the flow-runner reads it. */
export interface InvocationContext {
  getRemainingTimeInMillis?(): number;
}

/** Time kept back from the function's timeout to answer before Lambda ends the invocation. */
const ANSWER_MS = 1_500;
/** How long a flows module still loading may take to define the flow asked for. */
const FIND_FLOW_MS = 2_000;

/** A flow run that did not Complete: the invocation fails with it (Lambda's FunctionError). */
export class FlowRunFailedError extends SquallError {
  readonly flowRunId: string;
  readonly state: string;
  constructor(message: string, flowRunId: string, state: string, options?: ErrorOptions) {
    super(message, options);
    this.flowRunId = flowRunId;
    this.state = state;
  }
}

/**
 * Starts a flow by name with JSON parameters and answers with its result, as the flow-runner
 * function does: a flow run that fails fails the invocation, naming its state and error. A run
 * that would outlast the function's timeout fails the invocation just before it, saying so;
 * nothing cancels it, so the tasks it submitted to the worker fleet still finish. A result too
 * large for Lambda to answer is stored in `options.store` and answered by key.
 *
 * @example
 * await runFlow({ flow: "greetings", parameters: [["arthur", "trillian"]] });
 */
export async function runFlow(
  event: unknown,
  context: InvocationContext = {},
  options: RunFlowOptions = {},
): Promise<FlowRunnerResult | { batchItemFailures: { itemIdentifier: string }[] }> {
  const durability = options.durability?.();
  const remaining = context.getRemainingTimeInMillis?.();
  if (isFlowQueueEvent(event)) {
    if (!durability) {
      throw new InvalidArgumentError(
        "This flow-runner got flow queue messages but has no flow queue (SQUALL_FLOW_QUEUE_URL): it cannot resume runs.",
      );
    }
    return resumeRuns(event, remaining, durability);
  }
  const parsed = v.safeParse(FlowRunnerEventSchema, event);
  if (!parsed.success) {
    throw new InvalidArgumentError(
      `Expected an event { "flow": "<name>", "parameters": [...] }, got \`${JSON.stringify(event)}\`${parsed.issues[0] ? ` (${parsed.issues[0].message} at ${v.getDotPath(parsed.issues[0]) ?? "the top"})` : ""}`,
    );
  }
  const { flow: name, parameters } = parsed.output;
  const start = await findFlow(name);
  const args = Array.isArray(parameters) ? parameters : parameters === undefined ? [] : [parameters];
  if (durability) return startDurably(start, args, parsed.output, remaining, durability, options);
  const run = start(args);
  let timer: NodeJS.Timeout | undefined;
  const outlasted = new Promise<never>((_, reject) => {
    if (remaining === undefined) return;
    timer = setTimeout(
      () =>
        reject(
          new FlowRunFailedError(
            `Flow run '${run.name}' (${run.id}) outlasted the flow-runner's timeout. Its submitted tasks still run to completion in the worker fleet; give the function a longer timeout, or start long flows from a laptop or asynchronously.`,
            run.id,
            "Running",
          ),
        ),
      Math.max(remaining - ANSWER_MS, 0),
    );
  });
  try {
    const final = await Promise.race([run.final, outlasted]);
    if (final.type === "COMPLETED") {
      const completed = {
        flowRunId: run.id,
        flowRunName: run.name,
        flowName: name,
        state: "Completed",
      } as const;
      return await invokeAnswer(completed, final.result, options);
    }
    const error = "error" in final ? final.error : undefined;
    throw new FlowRunFailedError(
      `Flow run '${run.name}' (${run.id}) ended ${final.name}: ${error?.message ?? "no error given"}`,
      run.id,
      final.name,
      { cause: error },
    );
  } finally {
    clearTimeout(timer);
  }
}

export interface RunFlowOptions extends AnswerOptions {
  /** The bucket and queues that make runs durable: without, a run lives and dies with its invocation. */
  readonly durability?: () => Durability | undefined;
}

/**
 * Starts a durable run: its key, open marker and start record written before the flow starts,
 * so that from its first task on any invocation can resume it. Should this invocation near its
 * end, the run goes on in another, and this one fails saying where to follow it.
 */
async function startDurably(
  start: FlowStarter,
  args: unknown[],
  event: FlowRunnerEvent,
  remainingMs: number | undefined,
  durability: Durability,
  options: AnswerOptions,
): Promise<FlowRunnerResult> {
  const { store } = durability;
  const flowRunId = event.flowRunId ?? newFlowRunId();
  const flowRunName = newFlowRunName();
  const key = newRunKey();
  await storeRunKey(store, flowRunId, key); // refuses an id already used
  await markRunOpen(store, flowRunId);
  const startedAt = Date.now();
  const recorded = await writeStartRecord(store, flowRunId, {
    v: 1,
    flow: event.flow,
    parameters: args,
    flowRunName,
    startedAt,
    code: durability.code,
    ...(event.schedule !== undefined && { schedule: event.schedule }),
  });
  if (!recorded)
    throw new InvalidArgumentError(`Flow run ${flowRunId} was started before: a flow run id is used once.`);
  const journal = Journal.fresh(store, flowRunId, DRIVER_ID);
  const endRun = (state: string, message: string | undefined) =>
    endRunFailed(
      durability,
      key,
      journal,
      { flowRunId, flowName: event.flow },
      message ?? "",
      state as "Failed",
    );
  const driven = await driveRun(
    start,
    args,
    { flowRunId, flowRunName, startedAt, key, journal, resumed: false },
    { flowQueue: durability.flowQueue, remainingMs, endRun },
  );
  if (!driven.ended && !driven.handedOn) {
    throw new FlowRunFailedError(
      `Flow run '${flowRunName}' (${flowRunId}) outlasted the flow-runner's timeout. Its flow's tasks do not run on the LambdaTaskRunner, so it cannot go on in another invocation: give the function a longer timeout, or run the flow's tasks on the LambdaTaskRunner.`,
      flowRunId,
      "Crashed",
    );
  }
  if (!driven.ended) {
    throw new FlowRunFailedError(
      `Flow run '${flowRunName}' (${flowRunId}) goes on in another invocation of the flow-runner: this one neared its timeout. Follow it with \`squall logs --follow ${flowRunId}\`.`,
      flowRunId,
      "Running",
    );
  }
  const final = driven.final;
  if (final.type === "COMPLETED") {
    const completed = { flowRunId, flowRunName, flowName: event.flow, state: "Completed" } as const;
    return await invokeAnswer(completed, final.result, options);
  }
  const error = "error" in final ? final.error : undefined;
  throw new FlowRunFailedError(
    `Flow run '${flowRunName}' (${flowRunId}) ended ${final.name}: ${error?.message ?? "no error given"}`,
    flowRunId,
    final.name,
    { cause: error },
  );
}

async function findFlow(name: string) {
  const deadline = Date.now() + FIND_FLOW_MS;
  for (;;) {
    const start = registeredFlow(name);
    if (start) return start;
    if (Date.now() > deadline) {
      const known = flowNames();
      throw new InvalidArgumentError(
        `No flow named '${name}' is deployed here; ${known.length > 0 ? `there are: ${known.join(", ")}` : "the flows module defines none"}.`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
