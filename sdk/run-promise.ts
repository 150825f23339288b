/**
 * The promise a direct task or flow call returns. Its work has already started;
 * the underlying promise is made only when someone awaits it, which is how the
 * engine tells a failure the caller handled from one nobody looked at (and how
 * an un-awaited failure avoids an unhandled rejection: the flow reports it).
 */
export class RunPromise<T> implements Promise<T> {
  readonly #source: () => Promise<T>;
  #promise: Promise<T> | undefined;

  constructor(source: () => Promise<T>) {
    this.#source = source;
  }

  get [Symbol.toStringTag](): string {
    return "Promise";
  }

  // biome-ignore lint/suspicious/noThenProperty: this is a promise.
  then<A = T, B = never>(
    onFulfilled?: ((value: T) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.#get().then(onFulfilled, onRejected);
  }

  catch<B = never>(onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<T | B> {
    return this.#get().catch(onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<T> {
    return this.#get().finally(onFinally);
  }

  #get(): Promise<T> {
    this.#promise ??= this.#source();
    return this.#promise;
  }
}
