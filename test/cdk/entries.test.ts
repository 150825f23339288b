// The generated entries: squall's handler, with the flows module behind a literal import() that
// esbuild bundles and only the function's process evaluates.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { entrySource } from "../../cdk/constructs/entries.js";
import { ROOT } from "./stack.js";

const FLOWS = join(ROOT, "examples/flows.ts");
const HANDLERS = JSON.stringify(join(ROOT, "sdk/aws/handlers.ts"));

describe("a generated entry", () => {
  it("gives the worker and the flow-runner their handlers over the flows module", () => {
    expect(entrySource("worker", FLOWS)).toContain(
      `import { workerHandler } from ${HANDLERS};\n\n` +
        `export const handler = workerHandler({ flows: () => import(${JSON.stringify(FLOWS)}) });\n`,
    );
    expect(entrySource("flow-runner", FLOWS)).toContain(
      `import { flowRunnerHandler } from ${HANDLERS};\n\n` +
        `export const handler = flowRunnerHandler({ flows: () => import(${JSON.stringify(FLOWS)}) });\n`,
    );
  });

  it("gives the coordinator its handler, without the flows module", () => {
    const source = entrySource("coordinator", FLOWS);
    expect(source).toContain(
      `import { coordinatorHandler } from ${HANDLERS};\n\nexport const handler = coordinatorHandler();\n`,
    );
    expect(source).not.toContain("flows.ts");
  });
});
