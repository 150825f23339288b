import { InvalidArgumentError } from "../errors.js";
import { FileResultStore } from "./file.js";
import type { ResultStore, StoreLocator } from "./result-store.js";

const opened = new Map<string, Promise<ResultStore>>();

/** Makes `openStore` give this very instance for its locator in this process (with its own client settings). */
export function shareStore(store: ResultStore & { readonly locator: StoreLocator }): void {
  opened.set(JSON.stringify(store.locator), Promise.resolve(store));
}

/** Opens, once per process, the store a locator describes (an S3 one loads the AWS SDK only then). */
export function openStore(locator: StoreLocator): Promise<ResultStore> {
  const id = JSON.stringify(locator);
  let store = opened.get(id);
  if (!store) {
    store = open(locator);
    opened.set(id, store);
  }
  return store;
}

async function open(locator: StoreLocator): Promise<ResultStore> {
  switch (locator.kind) {
    case "file":
      return new FileResultStore(locator.root);
    case "s3": {
      // Imported only here, so that local users never load the AWS SDK.
      const { S3ResultStore } = await import("../aws/s3-store.js");
      return new S3ResultStore(locator);
    }
    default:
      throw new InvalidArgumentError(`Unknown store locator \`${JSON.stringify(locator)}\``);
  }
}
