import { createHash, randomUUID } from "node:crypto";

// A UUID per task run was a measurable share of per-run cost. A task run's id is instead its
// flow run's prefix and its place in the flow's call order (`<prefix>-<serial in base 36>`):
// cheap, unique across flow runs, and the same each time the flow function runs again with the
// same flow run id, which is what lets a resumed flow run find its task runs in the record.

/** The prefix of a flow run's task run ids: 12 hex digits of a hash of the flow run's id. */
export function taskRunIdPrefix(flowRunId: string): string {
  return createHash("sha256").update(flowRunId).digest("hex").slice(0, 12);
}

/** The id of the `serial`-th task run (from 1) a flow run with this prefix started. */
export function taskRunId(prefix: string, serial: number): string {
  return `${prefix}-${serial.toString(36)}`;
}

/** The serial in a task run id, if it is one of `taskRunId()`'s. */
export function serialOf(taskRunId: string): number | undefined {
  const match = /^[0-9a-f]{12}-([0-9a-z]+)$/.exec(taskRunId);
  return match ? Number.parseInt(match[1] as string, 36) : undefined;
}

export function newFlowRunId(): string {
  return randomUUID();
}

/**
 * The id of the `ordinal`-th subflow run (from 1) a flow run started: derived, like task run
 * ids, so that a flow run's subflows keep their ids when the flow runs again.
 */
export function subflowRunId(parentId: string, ordinal: number): string {
  const hex = createHash("sha256").update(`${parentId}/${ordinal}`).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

const ADJECTIVES = [
  "amber",
  "bold",
  "brisk",
  "calm",
  "clever",
  "cosmic",
  "daring",
  "eager",
  "fancy",
  "gentle",
  "glad",
  "hasty",
  "jolly",
  "keen",
  "lively",
  "lucky",
  "mellow",
  "nimble",
  "proud",
  "quiet",
  "rapid",
  "silver",
  "spry",
  "steady",
  "sunny",
  "swift",
  "tidy",
  "vivid",
  "witty",
  "zesty",
];
const ANIMALS = [
  "albatross",
  "badger",
  "beaver",
  "bison",
  "condor",
  "coyote",
  "dolphin",
  "falcon",
  "ferret",
  "gecko",
  "heron",
  "ibis",
  "jackal",
  "koala",
  "lemur",
  "lynx",
  "marmot",
  "narwhal",
  "ocelot",
  "otter",
  "panda",
  "petrel",
  "quokka",
  "raven",
  "salmon",
  "tapir",
  "toucan",
  "walrus",
  "wombat",
  "yak",
];

function pick(words: readonly string[]): string {
  return words[Math.floor(Math.random() * words.length)] as string;
}

/** A readable flow run name such as `witty-otter`, as Prefect gives. */
export function newFlowRunName(): string {
  return `${pick(ADJECTIVES)}-${pick(ANIMALS)}`;
}
