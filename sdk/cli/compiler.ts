import { createRequire } from "node:module";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type * as TS from "typescript";

/** The TypeScript compiler's API, as the `typescript` package exports it. */
export type TypeScript = typeof TS;

let loading: Promise<TypeScript | undefined> | undefined;

/**
 * The `typescript` package of the project running squall, else squall's own; `undefined` when
 * neither is installed or it has no JS API (typescript 7, the native compiler). `squall run`
 * reads a flow's parameters with it; without it, parameters are counted but not named or checked.
 */
export function loadCompiler(): Promise<TypeScript | undefined> {
  loading ??= (async () => {
    for (const from of [resolve("package.json"), import.meta.url]) {
      try {
        const path = createRequire(from).resolve("typescript");
        const loaded = (await import(pathToFileURL(path).href)) as TypeScript & { default?: TypeScript };
        const ts = loaded.default ?? loaded;
        if (typeof ts.createSourceFile === "function") return ts;
      } catch {}
    }
    return undefined;
  })();
  return loading;
}
