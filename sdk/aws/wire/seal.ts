import { createHmac, timingSafeEqual } from "node:crypto";
import { sqsSafeJson } from "./sqs-text.js";

/**
 * Message signatures. Every message on squall's queues is signed with its flow run's key (see
 * `run-key.ts`): `{"mac":"<HMAC-SHA256, base64url>",` followed by the rest of the message's
 * JSON. The MAC covers the exact bytes of the message without it, so checking needs no
 * re-encoding, and the queue it was meant for, so that a message signed for one queue means
 * nothing on the other. A caller's heartbeat (`record/heartbeat.ts`) is signed the same way, for
 * a channel of its own.
 */
export type Channel = "tasks" | "completions" | "heartbeats" | "flows";

const HEAD = '{"mac":"';
const MAC_CHARS = 43; // 32 bytes, base64url without padding
const OPENING = HEAD.length + MAC_CHARS + 2; // HEAD, the MAC, then `",`

/** Bytes the signature adds to a message: what packing must leave free. */
export const SEAL_BYTES = OPENING - 1;

function mac(key: Uint8Array, channel: Channel, body: string): string {
  return createHmac("sha256", key).update(`squall ${channel}\n`).update(body).digest("base64url");
}

/**
 * `body` (a JSON object with at least one field) signed for `channel`, with the characters SQS
 * refuses escaped first (senders escape records as they pack them, so that sizes hold).
 */
export function seal(key: Uint8Array, channel: Channel, json: string): string {
  if (!json.startsWith("{") || json.startsWith("{}")) {
    throw new TypeError("Expected a JSON object with fields to sign.");
  }
  const body = sqsSafeJson(json);
  return `${HEAD}${mac(key, channel, body)}",${body.slice(1)}`;
}

/** A signed message taken apart: the MAC it carries and the message it covers. */
export interface Envelope {
  readonly mac: string;
  readonly body: string;
}

/** The envelope of a signed message, or `undefined` when `sealed` carries no signature. */
export function openEnvelope(sealed: string): Envelope | undefined {
  if (!sealed.startsWith(HEAD) || sealed.slice(HEAD.length + MAC_CHARS, OPENING) !== '",') return undefined;
  const carried = sealed.slice(HEAD.length, HEAD.length + MAC_CHARS);
  if (!/^[A-Za-z0-9_-]+$/.test(carried)) return undefined;
  return { mac: carried, body: `{${sealed.slice(OPENING)}` };
}

/** Whether the envelope was signed for `channel` with `key`. */
export function signedWith(key: Uint8Array, channel: Channel, envelope: Envelope): boolean {
  const expected = Buffer.from(mac(key, channel, envelope.body), "base64url");
  const carried = Buffer.from(envelope.mac, "base64url");
  return carried.length === expected.length && timingSafeEqual(carried, expected);
}
