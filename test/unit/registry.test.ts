import { task } from "squall";
import { describe, expect, it } from "vitest";
import { whenRegistered } from "../../sdk/registry.js";

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
