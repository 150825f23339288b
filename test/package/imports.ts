// What the package's shipped files import, read without running them: the packages each file
// names (JavaScript and declarations alike), and those a module loads before any of its code
// runs (its static imports, through the package's own modules), where a missing one is an
// import that fails whatever the user calls.
import { readdirSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { join } from "node:path";
import { build } from "esbuild";
import ts from "typescript";

/** The package a specifier names (`aws-cdk-lib/aws-s3` names `aws-cdk-lib`); none for files and Node's own. */
export function packageOf(specifier: string): string | undefined {
  if (/^[./]/.test(specifier) || specifier.startsWith("node:") || builtinModules.includes(specifier)) {
    return undefined;
  }
  const [scope, name] = specifier.split("/");
  return specifier.startsWith("@") ? `${scope}/${name}` : scope;
}

/** `{ "<package>": ["<file>", ...] }` for every package named by a .js or .d.ts file under `dir`. */
export function importedPackages(dir: string): Record<string, string[]> {
  const found: Record<string, string[]> = {};
  const files = readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((file) =>
    /\.(?:js|d\.ts)$/.test(file),
  );
  for (const file of files.sort()) {
    // TypeScript's own scan: import and export declarations, import() and require() calls, not comments.
    const { importedFiles } = ts.preProcessFile(readFileSync(join(dir, file), "utf8"), true, true);
    for (const { fileName } of importedFiles) {
      const name = packageOf(fileName);
      if (name && !found[name]?.includes(file)) found[name] = [...(found[name] ?? []), file];
    }
  }
  return found;
}

/** The packages loading `entry` (a path under `dir`) imports statically, sorted. */
export async function staticPackages(dir: string, entry: string): Promise<string[]> {
  // esbuild only resolves here: its metafile tells static imports from import() calls.
  const { metafile } = await build({
    entryPoints: [join(dir, entry)],
    absWorkingDir: dir,
    bundle: true,
    packages: "external",
    platform: "node",
    format: "esm",
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  const packages = new Set<string>();
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const { path, kind, external } of metafile.inputs[file]?.imports ?? []) {
      if (kind !== "import-statement") continue;
      if (!external) {
        visit(path);
        continue;
      }
      const name = packageOf(path);
      if (name) packages.add(name);
    }
  };
  visit(entry);
  if (seen.size === 1 && !metafile.inputs[entry]) throw new Error(`esbuild did not read ${entry}`);
  return [...packages].sort();
}
