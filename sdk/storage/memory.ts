import { assertValidKey } from "./keys.js";
import type { ResultStore } from "./result-store.js";

/**
 * Keeps results in this process's memory. The default store: nothing outlives the process.
 *
 * @example
 * const store = new MemoryResultStore();
 * const double = task({ persistResult: true, resultStorage: store }, function double(x: number) { return 2 * x; });
 */
export class MemoryResultStore implements ResultStore {
  readonly #values = new Map<string, Uint8Array>();

  async put(key: string, value: Uint8Array): Promise<void> {
    assertValidKey(key);
    this.#values.set(key, value.slice());
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    assertValidKey(key);
    return this.#values.get(key)?.slice();
  }

  async exists(key: string): Promise<boolean> {
    assertValidKey(key);
    return this.#values.has(key);
  }

  async list(prefix: string): Promise<string[]> {
    return [...this.#values.keys()].filter((key) => key.startsWith(prefix)).sort();
  }

  async create(key: string, value: Uint8Array): Promise<boolean> {
    assertValidKey(key);
    if (this.#values.has(key)) return false;
    this.#values.set(key, value.slice());
    return true;
  }
}
