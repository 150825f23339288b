/**
 * What `promise` settles to, or `undefined` once `ms` pass first; the timer never keeps the
 * process alive past the answer.
 *
 * @example
 * const answer = await within(fetchStatus(), 2_000); // undefined: no answer in time
 */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(resolve, ms, undefined);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}
