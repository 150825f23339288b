/**
 * Messages a function would not act on, and why: each is logged once, as one line that is also
 * a CloudWatch metric (embedded metric format: `squall` / `RejectedMessages`, by function and
 * reason), so that forged or broken traffic is seen and counted without any request.
 */
export type RejectReason =
  /** Not a JSON object. */
  | "not-json"
  /** No signature: not sent by squall of this version. */
  | "unsigned"
  /** Names no flow run id of the allowed form. */
  | "no-flow-run"
  /** Names a flow run no caller of this deployment started (it has no key). */
  | "unknown-flow-run"
  /** Its signature is not its flow run's: forged, or changed on the way. */
  | "forged"
  /** Signed, but it does not fit its schema, and names task runs that cannot be told. */
  | "malformed";

/** What the log line says of the message, from what Lambda delivered. */
export interface RejectedItem {
  readonly messageId: string;
  readonly attributes?: { readonly SenderId?: string };
}

export class Rejections {
  readonly #function: "worker" | "coordinator" | "flow-runner";
  readonly #counts = new Map<RejectReason, number>();

  constructor(fn: "worker" | "coordinator" | "flow-runner") {
    this.#function = fn;
  }

  /** Counts and logs one rejected message; `action` says what became of it. */
  reject(item: RejectedItem, reason: RejectReason, detail: string, action: string): void {
    this.#counts.set(reason, (this.#counts.get(reason) ?? 0) + 1);
    const sender = item.attributes?.SenderId;
    const line = {
      _aws: {
        Timestamp: Date.now(),
        CloudWatchMetrics: [
          {
            Namespace: "squall",
            Dimensions: [["Function", "Reason"]],
            Metrics: [{ Name: "RejectedMessages", Unit: "Count" }],
          },
        ],
      },
      Function: this.#function,
      Reason: reason,
      RejectedMessages: 1,
      message: `squall ${this.#function}: rejected message ${item.messageId}${sender ? ` sent by ${sender}` : ""} (${reason}): ${detail}. ${action}`,
    };
    process.stderr.write(`${JSON.stringify(line)}\n`);
  }

  /** Messages rejected by this instance so far, by reason. */
  counts(): Partial<Record<RejectReason, number>> {
    return Object.fromEntries(this.#counts);
  }
}
