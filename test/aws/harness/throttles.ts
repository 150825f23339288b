// Throttling as an event source mapping meets it: a poller has received a batch but Lambda has no
// concurrency for it, so the function is not invoked and the messages stay in flight until their
// visibility timeout ends. Their receive counts rise though nothing ran. A rule throttles every
// batch holding a message it picks, until each such message was throttled `times` times.
import type { Message } from "@aws-sdk/client-sqs";

export interface ThrottleRule {
  /** Picks messages by body. */
  readonly when: (body: string) => boolean;
  /** How many times each picked message is throttled. */
  readonly times: number;
}

export interface Throttled {
  readonly queueArn: string;
  readonly messageIds: readonly string[];
  /** Each message's receive count when it was let go. */
  readonly receiveCounts: readonly number[];
}

export class Throttles {
  readonly events: Throttled[] = [];
  readonly #rules: { rule: ThrottleRule; counts: Map<string, number> }[] = [];

  add(rule: ThrottleRule): void {
    if (!Number.isInteger(rule.times) || rule.times < 1)
      throw new Error("Expected `times` to be an integer >= 1");
    this.#rules.push({ rule, counts: new Map() });
  }

  /** Whether this batch is throttled (and counts it for the messages the rules picked). */
  take(queueArn: string, messages: readonly Message[]): boolean {
    let throttled = false;
    for (const { rule, counts } of this.#rules) {
      for (const message of messages) {
        const id = message.MessageId ?? "";
        if (!rule.when(message.Body ?? "") || (counts.get(id) ?? 0) >= rule.times) continue;
        counts.set(id, (counts.get(id) ?? 0) + 1);
        throttled = true;
      }
    }
    if (throttled) {
      this.events.push({
        queueArn,
        messageIds: messages.map((message) => message.MessageId ?? ""),
        receiveCounts: messages.map((message) => Number(message.Attributes?.ApproximateReceiveCount ?? 1)),
      });
    }
    return throttled;
  }
}
