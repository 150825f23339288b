/**
 * `fn` of each item, at most `limit` at once, results in the items' order. The first rejection
 * rejects the whole (the calls under way still finish).
 *
 * @example
 * const summaries = await mapLimit(ids, 8, (id) => readSummary(store, id));
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const work = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, work));
  return results;
}
