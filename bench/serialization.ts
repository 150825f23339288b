// Serializer throughput for a 1 KB and a 1 MB value, against JSON.stringify/parse in this process.
import { defaultSerializer, jsonSerializer, type Serializer } from "squall";
import { type Sample, sample } from "./measure.js";

function record(i: number) {
  return { id: i, name: `item-${i}`, tags: ["a", "b"], score: i / 7, active: i % 2 === 0 };
}

/** An array of small records, about `bytes` long as JSON. */
function valueOfSize(bytes: number): unknown[] {
  const one = JSON.stringify(record(0)).length + 1;
  return Array.from({ length: Math.max(1, Math.round(bytes / one)) }, (_, i) => record(i));
}

const baseline: Serializer = {
  name: "JSON.stringify/parse",
  serialize: (value) => Buffer.from(JSON.stringify(value)),
  deserialize: (bytes) => JSON.parse(Buffer.from(bytes).toString()),
};

/** Megabytes per second through serialize then deserialize. */
async function roundTrip(serializer: Serializer, value: unknown, repeats: number): Promise<number> {
  const size = serializer.serialize(value).byteLength;
  const start = process.hrtime.bigint();
  for (let i = 0; i < repeats; i++) serializer.deserialize(serializer.serialize(value));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return (size * repeats) / 1e6 / seconds;
}

export interface SerializationRow {
  readonly size: string;
  readonly serializer: string;
  readonly mbPerSecond: Sample;
  readonly ratio: number;
}

export async function benchSerialization(): Promise<SerializationRow[]> {
  const rows: SerializationRow[] = [];
  for (const [size, bytes, repeats] of [
    ["1 KB", 1_000, 5_000],
    ["1 MB", 1_000_000, 10],
  ] as const) {
    const value = valueOfSize(bytes);
    const base = await sample(5, () => roundTrip(baseline, value, repeats));
    for (const serializer of [baseline, jsonSerializer, defaultSerializer]) {
      const result =
        serializer === baseline ? base : await sample(5, () => roundTrip(serializer, value, repeats));
      rows.push({
        size,
        serializer: serializer.name,
        mbPerSecond: result,
        ratio: result.median / base.median,
      });
    }
  }
  return rows;
}

export function reportSerialization(rows: readonly SerializationRow[]): string {
  return [
    "Serialization round trip (serialize + deserialize) of an array of small records (median of 5)",
    "",
    "| value | serializer | MB/s | ratio to JSON.stringify/parse |",
    "|---|---|---|---|",
    ...rows.map(
      (row) =>
        `| ${row.size} | ${row.serializer} | ${row.mbPerSecond.median.toFixed(1)} | ${row.ratio.toFixed(3)} |`,
    ),
  ].join("\n");
}
