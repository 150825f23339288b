// Where squall's own source sits, seen from this file: `sdk/` beside `cdk/`, as TypeScript when
// run from the repository (tsx), as JavaScript once built into dist/.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** squall's library folder. */
export const SQUALL_SOURCE = fileURLToPath(new URL("../../sdk", import.meta.url));

/** The absolute path of `sdk/<name>`, with whichever extension exists (`.ts` first). */
export function sdkModule(name: string): string {
  for (const extension of [".ts", ".js"]) {
    const path = `${SQUALL_SOURCE}/${name}${extension}`;
    if (existsSync(path)) return path;
  }
  throw new Error(`squall's ${name} module is missing from ${SQUALL_SOURCE}: reinstall squall.`);
}
