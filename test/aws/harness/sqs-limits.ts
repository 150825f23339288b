// SQS's limits on what is sent, which the emulator does not hold to as AWS does: 256 KiB per
// message and per SendMessageBatch call, at most 10 entries per batch call, and only the
// characters XML 1.0 allows in a body. A batch entry with a character outside the set fails
// alone (in the answer's Failed list) while the others are sent, as SQS answers it.
import type { FastifyInstance, FastifyRequest } from "fastify";
import { type AwsError, sendAwsError } from "./aws-errors.js";
import type { AwsCall } from "./aws-request.js";

export interface SqsLimits {
  /** Bytes of a message (body and attributes), and of all the messages of a batch call. */
  readonly maxMessageBytes?: number;
  /** Entries of a batch call (send, delete, change visibility), and messages of a receive. */
  readonly maxBatchEntries?: number;
  /**
   * Bodies with characters outside `#x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF`:
   * refused with InvalidMessageContents, or stored with each such character replaced by U+FFFD
   * (some of AWS's documentation describes that instead).
   */
  readonly characters?: "reject" | "replace";
}

export const SQS_LIMITS: Required<SqsLimits> = {
  maxMessageBytes: 256 * 1024,
  maxBatchEntries: 10,
  characters: "reject",
};

interface MessageAttribute {
  readonly DataType?: string;
  readonly StringValue?: string;
  readonly BinaryValue?: string;
}
interface Entry {
  readonly Id: string;
  MessageBody: string;
  readonly MessageAttributes?: Record<string, MessageAttribute>;
}
interface SendBody {
  MessageBody?: string;
  MessageAttributes?: Record<string, MessageAttribute>;
  Entries?: Entry[];
  MaxNumberOfMessages?: number;
}

export interface FailedEntry {
  readonly Id: string;
  readonly SenderFault: true;
  readonly Code: string;
  readonly Message: string;
}

export type Verdict =
  | { readonly kind: "pass" }
  | { readonly kind: "refuse"; readonly error: AwsError }
  /** Some entries of a batch fail; the rest (`keep`) go on to be sent. */
  | { readonly kind: "partial"; readonly failed: readonly FailedEntry[]; readonly keep: readonly Entry[] };

/** What SQS makes of this call under `limits`; in "replace" mode the bodies are changed in place. */
export function checkSqsCall(operation: string, body: SendBody, limits: SqsLimits): Verdict {
  const { maxMessageBytes, maxBatchEntries, characters } = limits;
  const entries = body.Entries;
  if (maxBatchEntries !== undefined && Array.isArray(entries) && entries.length > maxBatchEntries) {
    return refuse(
      "TooManyEntriesInBatchRequest",
      `Maximum number of entries per request are ${maxBatchEntries}. You have sent ${entries.length}.`,
      "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
    );
  }
  if (operation === "ReceiveMessage" && maxBatchEntries !== undefined) {
    const max = body.MaxNumberOfMessages;
    if (max !== undefined && (max < 1 || max > maxBatchEntries)) {
      return refuse(
        "InvalidParameterValue",
        `Value ${max} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and ${maxBatchEntries}, if provided.`,
      );
    }
  }
  if (operation === "SendMessage" && typeof body.MessageBody === "string") {
    if (maxMessageBytes !== undefined) {
      const bytes = messageBytes(body.MessageBody, body.MessageAttributes);
      if (bytes > maxMessageBytes) {
        return refuse(
          "InvalidParameterValue",
          `One or more parameters are invalid. Reason: Message must be shorter than ${maxMessageBytes} bytes.`,
        );
      }
    }
    const invalid = characters && firstInvalidCharacter(body.MessageBody);
    if (invalid !== undefined) {
      if (characters === "replace") body.MessageBody = replaceInvalidCharacters(body.MessageBody);
      else return refuse("InvalidMessageContents", invalidCharacterMessage(invalid));
    }
    return { kind: "pass" };
  }
  if (operation === "SendMessageBatch" && Array.isArray(entries)) {
    if (maxMessageBytes !== undefined) {
      const bytes = entries.reduce(
        (sum, entry) => sum + messageBytes(entry.MessageBody, entry.MessageAttributes),
        0,
      );
      if (bytes > maxMessageBytes) {
        return refuse(
          "BatchRequestTooLong",
          `Batch requests cannot be longer than ${maxMessageBytes} bytes. You have sent ${bytes} bytes.`,
          "AWS.SimpleQueueService.BatchRequestTooLong",
        );
      }
    }
    if (!characters) return { kind: "pass" };
    const failed: FailedEntry[] = [];
    const keep: Entry[] = [];
    for (const entry of entries) {
      const invalid =
        typeof entry.MessageBody === "string" ? firstInvalidCharacter(entry.MessageBody) : undefined;
      if (invalid === undefined) keep.push(entry);
      else if (characters === "replace") {
        entry.MessageBody = replaceInvalidCharacters(entry.MessageBody);
        keep.push(entry);
      } else {
        failed.push({
          Id: entry.Id,
          SenderFault: true,
          Code: "InvalidMessageContents",
          Message: invalidCharacterMessage(invalid),
        });
      }
    }
    return failed.length === 0 ? { kind: "pass" } : { kind: "partial", failed, keep };
  }
  return { kind: "pass" };
}

/** The first code point SQS does not allow in a body (a lone surrogate counts as its code unit). */
export function firstInvalidCharacter(text: string): number | undefined {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i += 1; // a pair: #x10000 to #x10FFFF, all allowed
        continue;
      }
      return unit;
    }
    if (!allowed(unit)) return unit;
  }
  return undefined;
}

export function replaceInvalidCharacters(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    const next = text.charCodeAt(i + 1);
    if (unit >= 0xd800 && unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      out += text.slice(i, i + 2);
      i += 1;
    } else out += unit >= 0xd800 && unit <= 0xdfff ? "\uFFFD" : allowed(unit) ? text[i] : "\uFFFD";
  }
  return out;
}

/** How SQS counts a message: the body's UTF-8 bytes plus each attribute's name, type and value. */
export function messageBytes(body: string, attributes: Record<string, MessageAttribute> = {}): number {
  let bytes = Buffer.byteLength(body ?? "", "utf8");
  for (const [name, attribute] of Object.entries(attributes)) {
    bytes += Buffer.byteLength(name) + Buffer.byteLength(attribute.DataType ?? "");
    bytes += Buffer.byteLength(attribute.StringValue ?? "") + Buffer.byteLength(attribute.BinaryValue ?? "");
  }
  return bytes;
}

export interface SqsLimitsLayerOptions {
  readonly callOf: (request: FastifyRequest) => AwsCall;
  readonly passes: (request: FastifyRequest) => boolean;
  readonly limits: () => SqsLimits;
  readonly onRefusal: (operation: string, code: string) => void;
}

export function installSqsLimits(app: FastifyInstance, options: SqsLimitsLayerOptions): void {
  const failedOf = new WeakMap<FastifyRequest, readonly FailedEntry[]>();
  app.addHook("preHandler", async (request, reply) => {
    if (options.passes(request)) return;
    const call = options.callOf(request);
    if (call.service !== "sqs" || typeof request.body !== "object" || request.body === null) return;
    const verdict = checkSqsCall(call.operation, request.body as SendBody, options.limits());
    if (verdict.kind === "refuse") {
      options.onRefusal(call.operation, verdict.error.code);
      return sendAwsError(reply, "sqs", verdict.error);
    }
    if (verdict.kind === "partial") {
      for (const entry of verdict.failed) options.onRefusal(call.operation, entry.Code);
      if (verdict.keep.length === 0) {
        return reply
          .code(200)
          .header("content-type", "application/x-amz-json-1.0")
          .send(JSON.stringify({ Successful: [], Failed: verdict.failed }));
      }
      (request.body as SendBody).Entries = [...verdict.keep];
      failedOf.set(request, verdict.failed);
    }
  });
  // The entries held back are added to the emulator's answer for the others.
  app.addHook("onSend", async (request, reply, payload) => {
    const failed = failedOf.get(request);
    if (!failed || reply.statusCode !== 200 || typeof payload !== "string") return payload;
    const answer = JSON.parse(payload) as { Successful?: unknown[]; Failed?: unknown[] };
    reply.removeHeader("content-length");
    return JSON.stringify({ ...answer, Failed: [...(answer.Failed ?? []), ...failed] });
  });
}

function allowed(unit: number): boolean {
  return (
    unit === 0x9 ||
    unit === 0xa ||
    unit === 0xd ||
    (unit >= 0x20 && unit <= 0xd7ff) ||
    (unit >= 0xe000 && unit <= 0xfffd)
  );
}

function invalidCharacterMessage(codePoint: number): string {
  return `Invalid binary character '#x${codePoint.toString(16).toUpperCase()}' was found in the message body, the set of allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF`;
}

function refuse(code: string, message: string, queryCode?: string): Verdict {
  return { kind: "refuse", error: { status: 400, code, message, ...(queryCode && { queryCode }) } };
}
