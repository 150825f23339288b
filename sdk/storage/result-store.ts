/**
 * Where results and cache records are kept. Narrow on purpose: every backend
 * (memory, local files, S3) offers exactly this.
 */
export interface ResultStore {
  put(key: string, value: Uint8Array): Promise<void>;
  /** The stored bytes, or `undefined` when nothing is stored at `key`. */
  get(key: string): Promise<Uint8Array | undefined>;
  exists(key: string): Promise<boolean>;
  /** Every key that starts with `prefix`, sorted. */
  list(prefix: string): Promise<string[]>;
  /** Stores `value` only if nothing is at `key` yet; `false` when something was. */
  create(key: string, value: Uint8Array): Promise<boolean>;
  /**
   * How another process reaches the same data (`openStore(locator)`), for stores that can be
   * shared; a store kept in one process's memory has none.
   */
  readonly locator?: StoreLocator;
}

/** A plain, serializable description of a shared store. */
export type StoreLocator =
  | { readonly kind: "file"; readonly root: string }
  | {
      readonly kind: "s3";
      readonly bucket: string;
      readonly prefix?: string;
      readonly region?: string;
      readonly endpoint?: string;
    };
