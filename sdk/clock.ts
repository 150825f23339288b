// Run times are kept as milliseconds since this module loaded (plus one, so that 0
// means "not yet"). Such numbers stay small integers, which V8 stores in place, where
// epoch milliseconds would cost a heap number per field per run.
const EPOCH = Date.now() - 1;

export function now(): number {
  return Date.now() - EPOCH;
}

export function toEpochMs(time: number): number {
  return EPOCH + time;
}
