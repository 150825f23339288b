import { DuplicateFlowNameError, flow, task } from "squall";
import { describe, expect, it } from "vitest";
import { registeredFlow, whenRegistered } from "../../sdk/registry.js";

describe("whenRegistered", () => {
  it("gives the task once its definition runs, or undefined when it does not run in time", async () => {
    const coming = whenRegistered("registeredLater", 5_000);
    const never = whenRegistered("neverRegistered", 20);
    const def = task(function registeredLater() {
      return 1;
    });
    expect((await coming)?.fn).toBe(def.fn);
    expect(await never).toBeUndefined();
    expect((await whenRegistered("registeredLater", 0))?.fn).toBe(def.fn); // known: at once
  });
});

describe("flows by name", () => {
  it("refuses to pick between two different flows of one name, and takes the same flow defined again", () => {
    flow({ name: "twinned" }, async function one() {
      return 1;
    });
    flow({ name: "twinned" }, async function other() {
      return 2;
    });
    expect(() => registeredFlow("twinned")).toThrow(DuplicateFlowNameError);
    expect(() => registeredFlow("twinned")).toThrow(
      `Two different flows are named 'twinned': give one of them another name with flow({ name: "..." }, fn), so that the right one starts.`,
    );

    const body = async function again() {
      return 3;
    };
    flow({ name: "again" }, body);
    flow({ name: "again" }, body);
    expect(registeredFlow("again")?.fn).toBe(body);
  });
});
