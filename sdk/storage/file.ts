import { randomBytes } from "node:crypto";
import { link, mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { InvalidArgumentError } from "../errors.js";
import { assertValidKey } from "./keys.js";
import type { ResultStore, StoreLocator } from "./result-store.js";

const SCRATCH = ".incoming";

/**
 * Keeps results as files under a folder, one file per key, so they outlive the process.
 * Unlike S3, it cannot hold both a key and keys beneath it (`a` and `a/b`).
 * Writes land whole or not at all (written aside, then renamed or linked in).
 *
 * @example
 * const store = new FileResultStore(".squall/results");
 */
export class FileResultStore implements ResultStore {
  readonly root: string;

  constructor(root: string) {
    if (typeof root !== "string" || root.length === 0) {
      throw new InvalidArgumentError(`Expected \`root\` to be a folder path, got \`${String(root)}\``);
    }
    this.root = resolve(root);
  }

  get locator(): StoreLocator {
    return { kind: "file", root: this.root };
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    const path = this.#path(key);
    const scratch = await this.#writeAside(value);
    try {
      await mkdir(dirname(path), { recursive: true });
      await rename(scratch, path);
    } catch (error) {
      await rm(scratch, { force: true });
      throw nestingError(key, error);
    }
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      return await readFile(this.#path(key));
    } catch (error) {
      if (isCode(error, "ENOENT") || isCode(error, "EISDIR") || isCode(error, "ENOTDIR")) return undefined;
      throw error;
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      return (await stat(this.#path(key))).isFile();
    } catch (error) {
      if (isCode(error, "ENOENT") || isCode(error, "ENOTDIR")) return false;
      throw error;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const slash = prefix.lastIndexOf("/");
    const folder = join(this.root, prefix.slice(0, slash + 1));
    let entries: string[];
    try {
      entries = await readdir(folder, { recursive: true });
    } catch (error) {
      if (isCode(error, "ENOENT") || isCode(error, "ENOTDIR")) return [];
      throw error;
    }
    const keys: string[] = [];
    for (const entry of entries) {
      const key = relative(this.root, join(folder, entry)).split(sep).join("/");
      if (key.startsWith(prefix) && !key.startsWith(SCRATCH) && (await this.exists(key))) keys.push(key);
    }
    return keys.sort();
  }

  async create(key: string, value: Uint8Array): Promise<boolean> {
    const path = this.#path(key);
    const scratch = await this.#writeAside(value);
    try {
      await mkdir(dirname(path), { recursive: true });
      await link(scratch, path); // fails with EEXIST, atomically, when the key is taken
      return true;
    } catch (error) {
      if (isCode(error, "EEXIST") && (await this.exists(key))) return false;
      throw nestingError(key, error);
    } finally {
      await rm(scratch, { force: true });
    }
  }

  #path(key: string): string {
    assertValidKey(key);
    return join(this.root, ...key.split("/"));
  }

  async #writeAside(value: Uint8Array): Promise<string> {
    const folder = join(this.root, SCRATCH);
    await mkdir(folder, { recursive: true });
    const scratch = join(folder, randomBytes(8).toString("hex"));
    await writeFile(scratch, value);
    return scratch;
  }
}

/** A key and keys beneath it cannot both be files; anything else passes through unchanged. */
function nestingError(key: string, error: unknown): unknown {
  if (!["EEXIST", "ENOTDIR", "EISDIR", "ENOTEMPTY"].some((code) => isCode(error, code))) return error;
  return new InvalidArgumentError(
    `Cannot store \`${key}\`: FileResultStore cannot hold both a key and keys beneath it (such as \`a\` and \`a/b\`). Use keys that do not nest inside one another.`,
    { cause: error },
  );
}

function isCode(error: unknown, code: string): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === code;
}
