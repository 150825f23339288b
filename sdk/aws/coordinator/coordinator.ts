import { appendOutcomes, type RecordStore } from "../record/run-log.js";
import {
  type FlowReturned,
  type Outcome,
  OutcomeMessageSchema,
  parseMessage,
  TaskMessageSchema,
} from "../wire/messages.js";
import { crashedOutcome } from "../worker/crashed.js";
import type { BatchResponse } from "../worker/task-worker.js";

/** An SQS event as Lambda delivers it to the coordinator (the fields it reads). */
export interface CoordinatorEvent {
  readonly Records: readonly {
    readonly messageId: string;
    readonly body: string;
    readonly eventSourceARN?: string;
    readonly attributes?: { readonly ApproximateReceiveCount?: string };
  }[];
}

export interface CoordinatorOptions {
  readonly store: RecordStore;
  /** Records from this queue are task messages that kept failing: their task runs end Crashed. */
  readonly deadLetterQueueArn?: string;
}

/**
 * The coordinator's core: the only writer of each flow run's record. It appends the outcomes
 * of a batch to their flow runs' records, one segment per flow run per batch, so a redelivered
 * outcome counts once; and turns dead-lettered task messages into Crashed outcomes, so a task
 * that keeps killing its worker fails its flow instead of leaving it waiting. A caller's notice
 * that its flow function returned goes into the record too; the run is marked final in the
 * summary once every task run it sent is.
 *
 * @example
 * const coordinator = createCoordinator({ store, deadLetterQueueArn });
 * export const handler = (event: CoordinatorEvent) => coordinator.handle(event);
 */
export function createCoordinator(options: CoordinatorOptions) {
  return {
    async handle(event: CoordinatorEvent): Promise<BatchResponse> {
      const byRun = new Map<
        string,
        { outcomes: Outcome[]; returned: FlowReturned | undefined; items: Set<string> }
      >();
      const runOf = (flowRunId: string) => {
        let run = byRun.get(flowRunId);
        if (!run) {
          run = { outcomes: [], returned: undefined, items: new Set<string>() };
          byRun.set(flowRunId, run);
        }
        return run;
      };
      for (const record of event.Records) {
        const { outcomes, returned } =
          options.deadLetterQueueArn !== undefined && record.eventSourceARN === options.deadLetterQueueArn
            ? { outcomes: crashed(record.body, Number(record.attributes?.ApproximateReceiveCount ?? 0)) }
            : received(record.body);
        for (const outcome of outcomes) {
          const run = runOf(outcome.flowRunId);
          run.outcomes.push(outcome);
          run.items.add(record.messageId);
        }
        if (returned) {
          const run = runOf(returned.flowRunId);
          run.returned = returned;
          run.items.add(record.messageId);
        }
      }
      const failed = new Set<string>();
      await Promise.all(
        [...byRun].map(async ([flowRunId, run]) => {
          try {
            await appendOutcomes(options.store, flowRunId, run.outcomes, run.returned);
          } catch {
            for (const item of run.items) failed.add(item); // delivered again; repeats are dropped
          }
        }),
      );
      return { batchItemFailures: [...failed].map((itemIdentifier) => ({ itemIdentifier })) };
    },
  };
}

function received(body: string): { outcomes: Outcome[]; returned?: FlowReturned } {
  const parsed = parseMessage(OutcomeMessageSchema, body);
  if (parsed.ok) {
    const message = parsed.value;
    return "returned" in message ? { outcomes: [], returned: message.returned } : message;
  }
  process.stderr.write(`squall coordinator: dropped an outcome message: ${parsed.reason}\n`);
  return { outcomes: [] };
}

/** A task message that reached the dead-letter queue: each of its task runs crashed. */
function crashed(body: string, deliveries: number): Outcome[] {
  const parsed = parseMessage(TaskMessageSchema, body);
  if (!parsed.ok) {
    process.stderr.write(`squall coordinator: dropped a dead-lettered message: ${parsed.reason}\n`);
    return [];
  }
  const message = parsed.value;
  // The dead-letter queue keeps the receive count; receiving it here added one.
  const times = (message.deaths ?? 0) + Math.max(deliveries - 1, 0);
  return message.tasks.map((task) => crashedOutcome(message, task, times));
}
