import { AllowFailure } from "../annotations.js";
import { TaskRun } from "./task-run.js";

/**
 * Futures may sit anywhere inside arrays and plain objects passed to a task. These
 * walk such values: to find the upstream runs, and to put their results in place.
 */

export function containsFutures(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  if (value instanceof TaskRun || value instanceof AllowFailure) return true;
  if (Array.isArray(value)) {
    for (const item of value) if (containsFutures(item)) return true;
    return false;
  }
  if (isPlainObject(value)) {
    for (const key in value) if (containsFutures((value as Record<string, unknown>)[key])) return true;
  }
  return false;
}

/** Upstream runs found in `value`, each with whether its failure is allowed. */
export function collectUpstream(value: unknown, into: Map<TaskRun, boolean>): void {
  if (typeof value !== "object" || value === null) return;
  if (value instanceof TaskRun) {
    if (!into.has(value)) into.set(value, false);
  } else if (value instanceof AllowFailure) {
    if (value.future instanceof TaskRun) into.set(value.future, true);
  } else if (Array.isArray(value)) {
    for (const item of value) collectUpstream(item, into);
  } else if (isPlainObject(value)) {
    for (const key in value) collectUpstream((value as Record<string, unknown>)[key], into);
  }
}

/** A copy of `value` with every (final) future replaced by its result, or its error if allowed to fail. */
export function substituteResults(value: unknown): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (value instanceof TaskRun) return value.outcome();
  if (value instanceof AllowFailure) return value.future instanceof TaskRun ? value.future.outcome() : value;
  if (Array.isArray(value)) return value.map(substituteResults);
  if (isPlainObject(value)) {
    const copy: Record<string, unknown> = {};
    for (const key in value) copy[key] = substituteResults((value as Record<string, unknown>)[key]);
    return copy;
  }
  return value;
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
