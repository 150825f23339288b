// Messages as squall's own senders sign them: each flow run's key written once to the bucket and
// the run marked open (as its caller does), then every body sealed with it for the queue it goes to.

import { markRunOpen } from "../../sdk/aws/record/open-runs.js";
import {
  type FlowReturned,
  type Outcome,
  type TaskMessage,
  WIRE_VERSION,
} from "../../sdk/aws/wire/messages.js";
import { type KeyWriter, newRunKey, storeRunKey } from "../../sdk/aws/wire/run-key.js";
import { type Channel, seal } from "../../sdk/aws/wire/seal.js";

export class TestSigner {
  readonly #store: KeyWriter;
  readonly #keys = new Map<string, Promise<Uint8Array>>();

  constructor(store: KeyWriter) {
    this.#store = store;
  }

  /** The run's key, written to the bucket the first time it is asked for (the run marked open with it). */
  keyOf(flowRunId: string): Promise<Uint8Array> {
    let key = this.#keys.get(flowRunId);
    if (!key) {
      const fresh = newRunKey();
      key = Promise.all([
        storeRunKey(this.#store, flowRunId, fresh),
        markRunOpen(this.#store, flowRunId),
      ]).then(() => fresh);
      this.#keys.set(flowRunId, key);
    }
    return key;
  }

  async sign(channel: Channel, flowRunId: string, body: string): Promise<string> {
    return seal(await this.keyOf(flowRunId), channel, body);
  }

  /** A task message, signed for the task queue. */
  taskBody(message: TaskMessage): Promise<string> {
    return this.sign("tasks", message.flowRunId, JSON.stringify(message));
  }

  /** A worker's outcome message for one flow run, signed for the completion queue. */
  outcomesBody(flowRunId: string, outcomes: Outcome[], worker?: string): Promise<string> {
    const message = { v: WIRE_VERSION, flowRunId, ...(worker !== undefined && { worker }), outcomes };
    return this.sign("completions", flowRunId, JSON.stringify(message));
  }

  /** A caller's flow-returned notice, signed for the completion queue. */
  returnedBody(returned: FlowReturned): Promise<string> {
    const message = { v: WIRE_VERSION, flowRunId: returned.flowRunId, returned };
    return this.sign("completions", returned.flowRunId, JSON.stringify(message));
  }

  /** The SQS event that delivers these task messages, signed, to the worker. */
  async event(...messages: TaskMessage[]) {
    const bodies = await Promise.all(messages.map((message) => this.taskBody(message)));
    return { Records: bodies.map((body, i) => ({ messageId: `m${i}`, body })) };
  }
}
