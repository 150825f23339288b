/**
 * Packs task records into queue messages and messages into SendMessageBatch calls: as
 * many records per message as fit under the size limit, ten messages per call. Records
 * are already-serialized JSON, so packing is string length arithmetic, not re-encoding.
 */

/** SQS's limit for one message, and for all messages of one SendMessageBatch call. */
export const SQS_MAX_BYTES = 256 * 1024;
export const SQS_MAX_BATCH = 10;
/** SQS holds a message back 15 minutes at most: the longest retry delay the fleet can honour. */
export const SQS_MAX_DELAY_SECONDS = 900;

export interface PackLimits {
  /** Most bytes per message body. @default SQS_MAX_BYTES */
  readonly maxMessageBytes?: number;
  /** Most records per message, to keep one message's work short. @default 500 */
  readonly maxRecords?: number;
}

/**
 * Message bodies `${head}${record},${record}...${tail}` of at most `maxMessageBytes` each,
 * records in order. A record that cannot fit even alone is an error the caller must avoid
 * (large arguments travel by reference, so records stay small).
 */
export function packMessages(
  head: string,
  records: readonly string[],
  tail: string,
  limits: PackLimits = {},
): string[] {
  const bodies: string[] = [];
  let start = 0;
  for (const count of packCounts(head, records, tail, limits)) {
    bodies.push(head + records.slice(start, start + count).join(",") + tail);
    start += count;
  }
  return bodies;
}

/**
 * How many records each message {@link packMessages} makes of them takes, in order: what a
 * sender needs to tell which records a refused message carried.
 */
export function packCounts(
  head: string,
  records: readonly string[],
  tail: string,
  limits: PackLimits = {},
): number[] {
  const maxBytes = limits.maxMessageBytes ?? SQS_MAX_BYTES;
  const maxRecords = limits.maxRecords ?? 500;
  const frame = Buffer.byteLength(head) + Buffer.byteLength(tail);
  const counts: number[] = [];
  let current = 0;
  let size = frame;
  for (const record of records) {
    const recordBytes = Buffer.byteLength(record);
    if (frame + recordBytes > maxBytes) {
      throw new RangeError(
        `A task record of ${recordBytes} bytes cannot fit in a message of ${maxBytes} bytes.`,
      );
    }
    const bytes = recordBytes + (current > 0 ? 1 : 0);
    if (current > 0 && (size + bytes > maxBytes || current >= maxRecords)) {
      counts.push(current);
      current = 0;
      size = frame;
    }
    size += recordBytes + (current > 0 ? 1 : 0);
    current += 1;
  }
  if (current > 0) counts.push(current);
  return counts;
}

/** Groups message bodies into SendMessageBatch calls: at most ten, and at most `maxBytes` in all. */
export function batchMessages(bodies: readonly string[], maxBytes = SQS_MAX_BYTES): string[][] {
  const batches: string[][] = [];
  let current: string[] = [];
  let size = 0;
  for (const body of bodies) {
    const bytes = Buffer.byteLength(body);
    if (current.length > 0 && (current.length >= SQS_MAX_BATCH || size + bytes > maxBytes)) {
      batches.push(current);
      current = [];
      size = 0;
    }
    current.push(body);
    size += bytes;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
