import { ResultNotFoundError } from "../errors.js";
import type { ResultStore, StoreLocator } from "../storage/result-store.js";
import type { Serializer } from "./serializer.js";

/**
 * A value that sits serialized in a shared store and travels by reference: a large argument
 * or result. A downstream run in another process is handed the reference, not the bytes,
 * and loads the value itself; the caller loads it only when it asks for the result.
 */
export class StoredValue {
  readonly key: string;
  readonly locator: StoreLocator;
  readonly size: number;
  #loaded: Promise<unknown> | undefined;

  constructor(key: string, locator: StoreLocator, size: number) {
    this.key = key;
    this.locator = locator;
    this.size = size;
  }

  /** The value, read and deserialized on first use. */
  load(serializer: Serializer, open: (locator: StoreLocator) => Promise<ResultStore>): Promise<unknown> {
    this.#loaded ??= open(this.locator).then(async (store) => {
      const bytes = await store.get(this.key);
      if (bytes === undefined) throw new ResultNotFoundError(`No stored value at \`${this.key}\`.`);
      return serializer.deserialize(bytes);
    });
    return this.#loaded;
  }
}

/** Where a payload above the threshold goes, and what that threshold is. */
export interface Offload {
  readonly store: ResultStore & { readonly locator: StoreLocator };
  readonly aboveBytes: number;
}
