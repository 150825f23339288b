import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type LocalEnvironment, startLocalEnvironment } from "squall/aws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callerReport } from "../support/local-environment.js";

const CALLER = new URL("../fixtures/large-value-flow.ts", import.meta.url);
/**
 * 200 MiB each way: an argument and a result this size go through the bucket in 25 parts of
 * 8 MiB (the emulator takes at most 11 MiB a request). About 12 s for the flow on two cores.
 */
const BYTES = 200 * 1024 * 1024;
const MiB = 1024 * 1024;

let local: LocalEnvironment;
let gate: string;

beforeAll(async () => {
  // One worker thread: the run needs one, and each holds the value several times while it works.
  [local, gate] = await Promise.all([
    startLocalEnvironment({ workers: 1 }),
    mkdtemp(join(tmpdir(), "squall-large-")),
  ]);
}, 30_000);
afterAll(async () => {
  await local?.stop();
  await rm(gate, { recursive: true, force: true });
});

interface Report {
  argumentUnchanged: boolean;
  resultBytes: number;
  resultHash: string;
  expected: string;
  seconds: number;
  rssBefore: number;
  rssPeak: number;
  heldBefore: number;
  heldWhileRunning: number;
  heldAfter: number;
}

/** Runs the caller in a process of its own (its memory is then the caller's alone); its report. */
function runCaller(bytes: number): Promise<Report> {
  return callerReport<Report>(local, CALLER, [String(bytes), gate]);
}

describe("values of hundreds of MB on the local environment", () => {
  it("takes a 200 MiB argument and returns a 200 MiB result, byte for byte, holding no extra copy", async () => {
    const report = await runCaller(BYTES);

    expect(report.argumentUnchanged).toBe(true);
    expect(report.resultBytes).toBe(BYTES);
    expect(report.resultHash).toBe(report.expected);
    // While the run is out, the caller holds the argument it was given, not a serialized copy
    // of it too (267 MiB more: the default serializer writes bytes as base64).
    expect(report.heldWhileRunning - report.heldBefore).toBeLessThan(16 * MiB);
    // Once the result is back, it holds the argument and the result, once each.
    expect(report.heldAfter - report.heldBefore).toBeGreaterThanOrEqual(BYTES);
    expect(report.heldAfter - report.heldBefore).toBeLessThan(BYTES + 16 * MiB);
  }, 120_000);
});
