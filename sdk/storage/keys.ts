import { InvalidArgumentError } from "../errors.js";

// Everything of one flow run sits under one prefix, so a run can be listed,
// inspected and expired as a unit.
export function runPrefix(flowRunId: string): string {
  return `runs/${flowRunId}/`;
}

export function resultKey(flowRunId: string, taskRunId: string): string {
  return `${runPrefix(flowRunId)}results/${taskRunId}`;
}

export function cacheKey(key: string): string {
  return `cache/${key}`;
}

const SEGMENT = /^[A-Za-z0-9._=+-]+$/;

/** Keys are `/`-separated segments of safe characters, never `.` or `..`. */
export function assertValidKey(key: string): void {
  const segments = key.split("/");
  for (const segment of segments) {
    if (!SEGMENT.test(segment) || segment === "." || segment === "..") {
      throw new InvalidArgumentError(
        `Expected a store key of \`/\`-separated segments of letters, digits and \`._=+-\`, got \`${key}\``,
      );
    }
  }
}
