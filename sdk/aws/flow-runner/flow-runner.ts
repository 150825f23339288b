import * as v from "valibot";
import { InvalidArgumentError, SquallError } from "../../errors.js";
import { flowNames, registeredFlow } from "../../registry.js";
import { type AnswerOptions, type FlowRunnerResult, invokeAnswer } from "./invoke-answer.js";

/** What the flow-runner function is invoked with. */
export const FlowRunnerEventSchema = v.object({
  /** The flow's name, as `flow()` named it. */
  flow: v.pipe(v.string(), v.minLength(1)),
  /** JSON: an array is the flow's arguments; anything else its one argument. @default no arguments */
  parameters: v.optional(v.unknown()),
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
  options: AnswerOptions = {},
): Promise<FlowRunnerResult> {
  const parsed = v.safeParse(FlowRunnerEventSchema, event);
  if (!parsed.success) {
    throw new InvalidArgumentError(
      `Expected an event { "flow": "<name>", "parameters": [...] }, got \`${JSON.stringify(event)}\``,
    );
  }
  const { flow: name, parameters } = parsed.output;
  const start = await findFlow(name);
  const args = Array.isArray(parameters) ? parameters : parameters === undefined ? [] : [parameters];
  const run = start(args);
  const remaining = context.getRemainingTimeInMillis?.();
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
