import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadCompiler, type TypeScript } from "../../sdk/cli/compiler.js";
import { checkParamTypes } from "../../sdk/cli/param-types.js";
import { checkParams, parameterList } from "../../sdk/cli/params.js";

const GENERATED = fileURLToPath(new URL("../fixtures/.generated/", import.meta.url));
const ts = (await loadCompiler()) as TypeScript;

/** A function as the running code has it: `new Function` keeps its source, comments and all. */
function running(source: string): (...args: never[]) => unknown {
  return new Function(`return ${source}`)() as (...args: never[]) => unknown;
}

/** The one line `checkParamTypes` refuses `args` with, or `undefined` when they fit. */
function misfitOf(source: string, flowName: string, fn: string, args: unknown[]): string | undefined {
  mkdirSync(GENERATED, { recursive: true });
  const path = join(GENERATED, `${flowName}.ts`);
  writeFileSync(path, source);
  try {
    checkParamTypes(ts, path, flowName, running(fn), args);
    return undefined;
  } catch (error) {
    return (error as Error).message.replace(` as declared at ${path}:`, " as declared at line ");
  }
}

describe("parameterList", () => {
  it("reads names with the compiler: commas in comments, defaults and destructuring do not split them", () => {
    const fn = running(
      "function f(first /* a name, say, or an id */, { a, b } = {}, [c, d], // e, f\n ...rest) {}",
    );
    expect(parameterList(ts, fn)).toEqual({ names: ["first", "{ a, b }", "[c, d]", "rest"], rest: true });
    expect(parameterList(ts, running("async (x, y = [1, 2]) => x"))).toEqual({
      names: ["x", "y"],
      rest: false,
    });
    expect(parameterList(ts, running("async x => x"))).toEqual({ names: ["x"], rest: false });
    expect(
      parameterList(
        ts,
        {
          m(a: number, b: number) {
            return a + b;
          },
        }.m,
      ),
    ).toEqual({
      names: ["a", "b"],
      rest: false,
    });
  });

  it("counts the arguments against them", () => {
    const fn = running("function f(first /* a name, say, or an id */, second) {}");
    expect(() => checkParams("f", fn, [1, 2, 3], "[1,2,3]", ts)).toThrow(
      "Flow 'f' takes 2 arguments (first, second), got 3 from --params '[1,2,3]': give a JSON array with one value per argument.",
    );
    // Without the compiler, only the required arguments count.
    expect(() => checkParams("f", fn, [1, 2, 3], "[1,2,3]", undefined)).not.toThrow();
    expect(() => checkParams("f", fn, [1], "[1]", undefined)).toThrow(
      "Flow 'f' takes at least 2 arguments, got 1 from --params '[1]': give a JSON array with one value per argument.",
    );
  });
});

describe("checkParamTypes", () => {
  const source = [
    'import { flow as makeFlow } from "squall";',
    'import * as squall from "squall";',
    "type Point = readonly [x: number, y: number, label?: string];",
    "interface Job { id: number | null; kind: 'a' | 'b' | -1; meta?: Record<string, boolean> }",
    "export const shapes = makeFlow(",
    '  { name: "shapes" },',
    "  async (points: Point[], jobs: Array<Job>, flag?: boolean, ...rest: (string | { n: number })[]) => 0,",
    ");",
    "export const other = squall.flow(function other(when: Date, anything: unknown, raw) { return 0; });",
  ].join("\n");
  const shapes = "async (points, jobs, flag, ...rest) => 0";
  const other = "function other(when, anything, raw) { return 0; }";

  it.each([
    [
      [
        [
          [1, 2],
          [3, 4, "c"],
        ],
        [
          { id: null, kind: -1 },
          { id: 2, kind: "a", meta: { ok: true } },
        ],
      ],
      undefined,
    ],
    [[[], [], true, "s", { n: 1 }], undefined],
    [
      [[[1, "2"]], []],
      "--params does not fit flow 'shapes': points[0][1] (argument 1) must be number, got \"2\", as declared at line 7.",
    ],
    [
      [[[1, 2, "c", 4]], []],
      "--params does not fit flow 'shapes': points[0] (argument 1) must be [x: number, y: number, label?: string], got [1,2,\"c\",4], as declared at line 7.",
    ],
    [
      [[], [{ id: 1, kind: "c" }]],
      "--params does not fit flow 'shapes': jobs[0].kind (argument 2) must be 'a' | 'b' | -1, got \"c\", as declared at line 7.",
    ],
    [
      [[], [{ kind: "a" }]],
      "--params does not fit flow 'shapes': jobs[0].id (argument 2) must be number | null, got nothing, as declared at line 7.",
    ],
    [
      [[], [{ id: 1, kind: "a", meta: { ok: 1 } }]],
      "--params does not fit flow 'shapes': jobs[0].meta.ok (argument 2) must be boolean, got 1, as declared at line 7.",
    ],
    [
      [[], [], "yes"],
      "--params does not fit flow 'shapes': flag (argument 3) must be boolean, got \"yes\", as declared at line 7.",
    ],
    [
      [[], [], false, "s", { n: "1" }],
      "--params does not fit flow 'shapes': rest[1].n (argument 4) must be number, got \"1\", as declared at line 7.",
    ],
  ])("shapes %j: %s", (args, message) => {
    expect(misfitOf(source, "shapes", shapes, args)).toBe(message);
  });

  it("takes what the source cannot tell (an imported type, unknown, no annotation) as fitting", () => {
    expect(misfitOf(source, "other", other, ["2026-12-07", 1, { any: "thing" }])).toBeUndefined();
  });

  it("checks nothing when the running function is not the one the source declares", () => {
    expect(misfitOf(source, "shapes", "async (a, b) => 0", [1, 2])).toBeUndefined();
  });
});
