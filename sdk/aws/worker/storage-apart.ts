import { SquallError, toError } from "../../errors.js";
import type { ResultStore, StoreLocator } from "../../storage/result-store.js";

/** The bucket failed a run's arguments or result (after the SDK's retries): not the task's fault. */
export class StorageUnavailableError extends SquallError {
  constructor(cause: unknown) {
    super(`The bucket could not be reached: ${toError(cause).message}`, { cause });
  }
}

const unavailable = (error: unknown): never => {
  throw new StorageUnavailableError(error);
};

/** A store whose failures are the bucket's (`StorageUnavailableError`), told apart from the task's. */
export class FailingApart implements ResultStore {
  readonly #store: ResultStore;
  constructor(store: ResultStore) {
    this.#store = store;
  }
  get locator(): StoreLocator | undefined {
    return this.#store.locator;
  }
  put(key: string, value: Uint8Array): Promise<void> {
    return this.#store.put(key, value).catch(unavailable);
  }
  get(key: string): Promise<Uint8Array | undefined> {
    return this.#store.get(key).catch(unavailable);
  }
  exists(key: string): Promise<boolean> {
    return this.#store.exists(key).catch(unavailable);
  }
  list(prefix: string): Promise<string[]> {
    return this.#store.list(prefix).catch(unavailable);
  }
  create(key: string, value: Uint8Array): Promise<boolean> {
    return this.#store.create(key, value).catch(unavailable);
  }
}
