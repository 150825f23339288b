// Small helpers shared by the benchmarks: repeated timing and heap readings.

export interface Sample {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

/** Runs `fn` `rounds` times (after one warm-up) and returns the median, min and max of `perRound`. */
export async function sample(rounds: number, fn: () => Promise<number>): Promise<Sample> {
  await fn();
  const values: number[] = [];
  for (let i = 0; i < rounds; i++) values.push(await fn());
  values.sort((a, b) => a - b);
  return {
    median: values[Math.floor(values.length / 2)] as number,
    min: values[0] as number,
    max: values[values.length - 1] as number,
  };
}

/** Items per second for `count` items done by `fn`. */
export async function throughput(count: number, fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return count / seconds;
}

export function heapUsedAfterGc(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("Run the benchmarks with node --expose-gc (npm run bench does).");
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

export function formatRate(rate: number): string {
  return `${Math.round(rate).toLocaleString("en-US")}/s`;
}
