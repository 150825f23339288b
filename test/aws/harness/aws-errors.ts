// Error answers shaped as each service sends them, so that the AWS SDK in the functions and the
// caller reads them as it reads AWS's: S3's XML, SQS's JSON protocol (with the Query protocol's
// code in x-amzn-query-error), Lambda's JSON with x-amzn-ErrorType, CloudFormation's XML.
import { randomUUID } from "node:crypto";
import type { FastifyReply } from "fastify";
import type { Service } from "./aws-request.js";

export interface AwsError {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  /** SQS's Query protocol code, when it differs from `code`. */
  readonly queryCode?: string;
  /** SQS's JSON `__type` namespace. @default com.amazonaws.sqs */
  readonly namespace?: string;
  /** Whether the caller is at fault (4xx) or the service (5xx). @default status < 500 */
  readonly senderFault?: boolean;
}

export function sendAwsError(
  reply: FastifyReply,
  service: Service,
  error: AwsError,
  head = false,
): FastifyReply {
  const { headers, body } = renderAwsError(service, error);
  reply.code(error.status);
  for (const [name, value] of Object.entries(headers)) reply.header(name, value);
  return reply.send(head ? "" : body);
}

export function renderAwsError(
  service: Service,
  error: AwsError,
): { headers: Record<string, string>; body: string } {
  const requestId = randomUUID();
  const sender = error.senderFault ?? error.status < 500;
  if (service === "sqs") {
    return {
      headers: {
        "content-type": "application/x-amz-json-1.0",
        "x-amzn-query-error": `${error.queryCode ?? error.code};${sender ? "Sender" : "Receiver"}`,
        "x-amzn-requestid": requestId,
      },
      body: JSON.stringify({
        __type: `${error.namespace ?? "com.amazonaws.sqs"}#${error.code}`,
        message: error.message,
      }),
    };
  }
  if (service === "lambda") {
    return {
      headers: {
        "content-type": "application/json",
        "x-amzn-errortype": error.code,
        "x-amzn-requestid": requestId,
      },
      body: JSON.stringify({ Type: sender ? "User" : "Service", message: error.message }),
    };
  }
  if (service === "cloudformation" || service === "sts") {
    return {
      headers: { "content-type": "text/xml", "x-amzn-requestid": requestId },
      body: `<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>${sender ? "Sender" : "Receiver"}</Type><Code>${escapeXml(error.code)}</Code><Message>${escapeXml(error.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
    };
  }
  const s3RequestId = requestId.replaceAll("-", "").slice(0, 16).toUpperCase();
  return {
    headers: { "content-type": "application/xml", "x-amz-request-id": s3RequestId },
    body: `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${escapeXml(error.code)}</Code><Message>${escapeXml(error.message)}</Message><RequestId>${s3RequestId}</RequestId><HostId>harness</HostId></Error>`,
  };
}

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
