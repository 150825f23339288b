import { randomBytes, randomUUID } from "node:crypto";

// A UUID per task run was a measurable share of per-run cost; a counter under a
// random per-process prefix is unique across processes and far cheaper.
const processPrefix = randomBytes(6).toString("hex");
let counter = 0;

/** A number unique in this process; `taskRunId()` turns it into an id unique across processes. */
export function nextSerial(): number {
  counter += 1;
  return counter;
}

export function taskRunId(serial: number): string {
  return `${processPrefix}-${serial.toString(36)}`;
}

export function newFlowRunId(): string {
  return randomUUID();
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
