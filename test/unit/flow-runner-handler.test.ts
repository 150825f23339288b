import { describe, expect, it } from "vitest";
import { flowRunnerHandler } from "../../sdk/aws/handlers.js";
import { reviveError } from "../../sdk/serialization/errors.js";

// The handler puts this file's process in worker mode: its own file, so no other test is.
class LedgerClosedError extends Error {}

describe("flowRunnerHandler", () => {
  it("registers the Error classes its flows module exports, so that its tasks' errors come back as them", async () => {
    flowRunnerHandler({ flows: async () => ({ LedgerClosedError, limit: 3 }), env: {} });
    await new Promise((resolve) => setImmediate(resolve));

    const error = reviveError({
      "@class": "LedgerClosedError",
      name: "Error",
      message: "the ledger is closed",
    });

    expect(error).toBeInstanceOf(LedgerClosedError);
    expect(error.message).toBe("the ledger is closed");
  });
});
