import { AllowFailure } from "../annotations.js";
import { StoredValue } from "../serialization/stored.js";
import { TaskRun } from "./task-run.js";

/**
 * Futures may sit anywhere inside arrays and plain objects passed to a task. These
 * walk such values: to find the upstream runs, and to put their results in place.
 * Values may be circular; each object is visited once.
 */

export function containsFutures(value: unknown, seen?: Set<object>): boolean {
  if (typeof value !== "object" || value === null) return false;
  if (value instanceof TaskRun || value instanceof AllowFailure) return true;
  const array = Array.isArray(value);
  if (!array && !isPlainObject(value)) return false;
  const visited = seen ?? new Set<object>();
  if (visited.has(value)) return false;
  visited.add(value);
  if (array) {
    for (const item of value) if (containsFutures(item, visited)) return true;
    return false;
  }
  for (const key in value) if (containsFutures((value as Record<string, unknown>)[key], visited)) return true;
  return false;
}

/** Upstream runs found in `value`, each with whether its failure is allowed. */
export function collectUpstream(value: unknown, into: Map<TaskRun, boolean>, seen = new Set<object>()): void {
  if (typeof value !== "object" || value === null || seen.has(value)) return;
  seen.add(value);
  if (value instanceof TaskRun) {
    if (!into.has(value)) into.set(value, false);
  } else if (value instanceof AllowFailure) {
    if (value.future instanceof TaskRun) into.set(value.future, true);
  } else if (Array.isArray(value)) {
    for (const item of value) collectUpstream(item, into, seen);
  } else if (isPlainObject(value)) {
    for (const key in value) collectUpstream((value as Record<string, unknown>)[key], into, seen);
  }
}

/**
 * A copy of `value` with every (final) future replaced by its result (or what `resultOf`
 * gives for it), or its error if allowed to fail. Arrays and plain objects are copied, keeping their cycles; the caller's
 * values are never changed.
 */
export function substituteResults(
  value: unknown,
  copies = new Map<object, unknown>(),
  resultOf: (future: TaskRun) => unknown = (future) => future.outcome(),
): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (value instanceof TaskRun) return resultOf(value);
  if (value instanceof AllowFailure) return value.future instanceof TaskRun ? resultOf(value.future) : value;
  const done = copies.get(value);
  if (done !== undefined) return done;
  if (Array.isArray(value)) {
    const copy: unknown[] = [];
    copies.set(value, copy);
    for (const item of value) copy.push(substituteResults(item, copies, resultOf));
    return copy;
  }
  if (isPlainObject(value)) {
    const copy: Record<string, unknown> = Object.create(Object.getPrototypeOf(value));
    copies.set(value, copy);
    for (const key in value)
      copy[key] = substituteResults((value as Record<string, unknown>)[key], copies, resultOf);
    return copy;
  }
  return value;
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * `value` with every StoredValue in it (inside arrays and plain objects) replaced by what it
 * holds; `value` itself when it holds none.
 */
export async function loadStoredValues(
  value: unknown,
  load: (stored: StoredValue) => Promise<unknown>,
): Promise<unknown> {
  if (value instanceof StoredValue) return load(value);
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) {
    if (!value.some(mayHoldStored)) return value;
    return Promise.all(value.map((item) => loadStoredValues(item, load)));
  }
  if (isPlainObject(value)) {
    const entries = Object.entries(value);
    if (!entries.some(([, item]) => mayHoldStored(item))) return value;
    const copy: Record<string, unknown> = {};
    for (const [key, item] of entries) copy[key] = await loadStoredValues(item, load);
    return copy;
  }
  return value;
}

function mayHoldStored(value: unknown): boolean {
  return (
    value instanceof StoredValue ||
    (typeof value === "object" && value !== null && (Array.isArray(value) || isPlainObject(value)))
  );
}
