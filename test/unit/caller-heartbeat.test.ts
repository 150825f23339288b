import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { decodeHeartbeat, heartbeatKey } from "../../sdk/aws/record/heartbeat.js";
import { CallerHeartbeat } from "../../sdk/aws/runner/heartbeat.js";
import { newRunKey } from "../../sdk/aws/wire/run-key.js";

const flowRunId = "0b4c0e9e-6a56-4b55-8f3c-2f7f6a6f1b01";
const key = newRunKey();

/** A bucket that keeps every write: the times of the heartbeats written, in order. */
function bucket(fail = false) {
  const beats: number[] = [];
  const keys: string[] = [];
  return {
    beats,
    keys,
    async put(at: string, value: Uint8Array) {
      if (fail) throw new Error("503 Slow Down");
      keys.push(at);
      const beat = decodeHeartbeat(key, flowRunId, value);
      if (!beat) throw new Error("not a heartbeat signed with the run's key");
      beats.push(beat.at);
    },
  };
}

describe("the caller's heartbeat", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("writes a signed heartbeat once the key is in, then six times per bound, and none after it stops", async () => {
    const store = bucket();
    const heartbeat = new CallerHeartbeat(store, key, { flowRunId, flowName: "f", silentAfterSeconds: 60 });

    heartbeat.start(Promise.resolve());
    heartbeat.start(Promise.resolve()); // once
    await vi.advanceTimersByTimeAsync(0);
    expect(store.beats).toEqual([1_000_000]);
    expect(store.keys).toEqual([heartbeatKey(flowRunId)]);

    await vi.advanceTimersByTimeAsync(20_000);
    expect(store.beats).toEqual([1_000_000, 1_010_000, 1_020_000]);

    await heartbeat.stop();
    heartbeat.start(Promise.resolve());
    await vi.advanceTimersByTimeAsync(60_000);
    expect(store.beats).toEqual([1_000_000, 1_010_000, 1_020_000]);
  });

  it("writes nothing before the run's key is in, and nothing if it could not be written", async () => {
    const store = bucket();
    const heartbeat = new CallerHeartbeat(store, key, { flowRunId, flowName: "f", silentAfterSeconds: 60 });
    let storeKey: (ok: boolean) => void = () => {};
    heartbeat.start(new Promise<void>((resolve, reject) => (storeKey = (ok) => (ok ? resolve() : reject()))));
    await vi.advanceTimersByTimeAsync(0);
    expect(store.beats).toEqual([]);
    storeKey(false);
    await vi.advanceTimersByTimeAsync(0);
    expect(store.beats).toEqual([]);
    await heartbeat.stop();
  });

  it("reports a failing bucket once, saying what happens and what to check, and keeps trying", async () => {
    const store = bucket(true);
    const lines: string[] = [];
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation((line) => {
      lines.push(String(line));
      return true;
    });
    const heartbeat = new CallerHeartbeat(store, key, { flowRunId, flowName: "f", silentAfterSeconds: 60 });

    heartbeat.start(Promise.resolve());
    await vi.advanceTimersByTimeAsync(30_000);
    await heartbeat.stop();
    stderr.mockRestore();

    expect(lines).toEqual([
      `squall: could not write flow run ${flowRunId}'s heartbeat (503 Slow Down); still trying. Without one for 60 seconds the coordinator ends the run as Crashed: check the bucket and the credentials' rights on runs/*.\n`,
    ]);
  });
});
