import type { Outcome } from "../wire/messages.js";

export type LogEntry = Outcome["logs"][number];

/** An outcome's lines to replay, with what to replay them in (the session's task run scope). */
export interface Replay<S> {
  readonly scope: S;
  readonly outcome: Outcome;
}

/**
 * The lines of outcomes that arrived together, in the order of their own times: run-logger
 * lines carry the time they were logged; console output carries none, so it takes the time of
 * the line before it in its outcome (or its attempt's start). Each run's lines keep the order
 * they are given in (its attempts', in attempt order, whatever the workers' clocks say), and
 * lines of the same time keep the order their outcomes came in.
 */
export function inTimeOrder<S>(replays: readonly Replay<S>[]): { scope: S; entry: LogEntry }[] {
  const timed: { scope: S; entry: LogEntry; time: number; place: number }[] = [];
  /** Each run's latest time so far: no line of a run goes before one given ahead of it. */
  const latest = new Map<S, number>();
  for (const { scope, outcome } of replays) {
    let time = Math.max(outcome.startedAt ?? outcome.endedAt, latest.get(scope) ?? Number.NEGATIVE_INFINITY);
    for (const entry of outcome.logs) {
      if ("time" in entry) time = Math.max(time, entry.time);
      timed.push({ scope, entry, time, place: timed.length });
    }
    latest.set(scope, time);
  }
  timed.sort((a, b) => a.time - b.time || a.place - b.place);
  return timed.map(({ scope, entry }) => ({ scope, entry }));
}
