// What an HTTP request to the emulator asks of AWS: which service and operation, who signed it
// (the access key in its SigV4 credential scope), and the IAM actions on which resources it
// needs. The IAM layer checks these; the other layers pick requests out by them.

export type Service = "s3" | "sqs" | "lambda" | "cloudformation" | "sts" | "unknown";

/** One IAM check: `action` on `resource` (an ARN). */
export interface Check {
  readonly action: string;
  readonly resource: string;
}

export interface AwsCall {
  readonly service: Service;
  /** The API operation: GetObject, SendMessageBatch, Invoke, DescribeStacks. */
  readonly operation: string;
  readonly checks: readonly Check[];
  readonly accessKeyId: string | undefined;
  readonly region: string;
  readonly bucket?: string;
  readonly key?: string;
  readonly queueUrl?: string;
  readonly functionName?: string;
}

/** The parts of a request this reads (a Fastify request has them). */
export interface RequestLike {
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body?: unknown;
}

export interface CallContext {
  readonly accountId: string;
  readonly defaultRegion: string;
  /** The stack ARN CloudFormation would give a stack of that name. */
  readonly stackArn: (name: string) => string;
}

export function describeCall(request: RequestLike, context: CallContext): AwsCall {
  const scope = credentialScope(request);
  const region = scope?.region ?? context.defaultRegion;
  const base = { accessKeyId: scope?.accessKeyId, region };
  const service = serviceOf(request, scope?.service);
  switch (service) {
    case "sqs":
      return { ...base, ...sqsCall(request, region, context.accountId) };
    case "lambda":
      return { ...base, ...lambdaCall(request, region, context.accountId) };
    case "cloudformation":
      return { ...base, ...cloudFormationCall(request, context) };
    case "sts":
      return { ...base, service, operation: String(formOf(request).Action ?? "Unknown"), checks: [] };
    case "s3":
      return { ...base, ...s3Call(request) };
    default:
      return {
        ...base,
        service,
        operation: "Unknown",
        checks: [{ action: "unknown:Unknown", resource: "*" }],
      };
  }
}

interface Scope {
  readonly accessKeyId: string;
  readonly region: string;
  readonly service: string;
}

/** `Credential=<key>/<date>/<region>/<service>/aws4_request` from the Authorization header or a presigned URL. */
function credentialScope(request: RequestLike): Scope | undefined {
  const authorization = header(request, "authorization") ?? "";
  const fromHeader = /Credential=([^,\s]+)/.exec(authorization)?.[1];
  const query = new URLSearchParams(request.url.split("?")[1] ?? "");
  const credential = fromHeader ?? query.get("X-Amz-Credential") ?? undefined;
  if (!credential) return undefined;
  const [accessKeyId = "", , region = "", service = ""] = decodeURIComponent(credential).split("/");
  return { accessKeyId, region, service };
}

function serviceOf(request: RequestLike, signed: string | undefined): Service {
  if (
    signed === "s3" ||
    signed === "sqs" ||
    signed === "lambda" ||
    signed === "cloudformation" ||
    signed === "sts"
  ) {
    return signed;
  }
  if (String(header(request, "x-amz-target") ?? "").startsWith("AmazonSQS.")) return "sqs";
  if (request.url.startsWith("/2015-03-31/functions/")) return "lambda";
  const form = formOf(request);
  if (form.Action === "GetCallerIdentity") return "sts";
  if (form.Version === "2010-05-15") return "cloudformation";
  return signed === undefined ? "s3" : "unknown";
}

const SQS_BATCH_ACTIONS: Record<string, string> = {
  SendMessageBatch: "SendMessage",
  DeleteMessageBatch: "DeleteMessage",
  ChangeMessageVisibilityBatch: "ChangeMessageVisibility",
};

function sqsCall(request: RequestLike, region: string, accountId: string) {
  const operation = String(header(request, "x-amz-target") ?? "").replace(/^AmazonSQS\./, "") || "Unknown";
  const body = (request.body ?? {}) as { QueueUrl?: string; QueueName?: string };
  const queueUrl = body.QueueUrl;
  let resource: string;
  if (queueUrl) {
    const [, owner = accountId, name = ""] = new URL(queueUrl).pathname.split("/");
    resource = `arn:aws:sqs:${region}:${owner}:${name}`;
  } else if (body.QueueName) resource = `arn:aws:sqs:${region}:${accountId}:${body.QueueName}`;
  else resource = `arn:aws:sqs:${region}:${accountId}:*`;
  const action = `sqs:${SQS_BATCH_ACTIONS[operation] ?? operation}`;
  return { service: "sqs" as const, operation, queueUrl, checks: [{ action, resource }] };
}

function lambdaCall(request: RequestLike, region: string, accountId: string) {
  const path = request.url.split("?")[0] ?? "";
  const invoke = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(path);
  if (!invoke || request.method !== "POST") {
    return {
      service: "lambda" as const,
      operation: "Unknown",
      checks: [{ action: `lambda:${request.method} ${path}`, resource: "*" }],
    };
  }
  const named = decodeURIComponent(invoke[1] ?? "");
  // A name, a partial ARN (123456789012:function:name) or an ARN, maybe with a qualifier.
  const functionName = named.includes(":function:")
    ? (named.split(":function:")[1]?.split(":")[0] ?? named)
    : (named.split(":")[0] ?? named);
  return {
    service: "lambda" as const,
    operation: "Invoke",
    functionName,
    checks: [
      {
        action: "lambda:InvokeFunction",
        resource: `arn:aws:lambda:${region}:${accountId}:function:${functionName}`,
      },
    ],
  };
}

function cloudFormationCall(request: RequestLike, context: CallContext) {
  const form = formOf(request);
  const operation = String(form.Action ?? "Unknown");
  const stack = form.StackName === undefined ? undefined : String(form.StackName);
  const resource = stack === undefined ? "*" : stack.startsWith("arn:") ? stack : context.stackArn(stack);
  return {
    service: "cloudformation" as const,
    operation,
    checks: [{ action: `cloudformation:${operation}`, resource }],
  };
}

function s3Call(request: RequestLike) {
  const [path = "", queryText = ""] = request.url.split("?");
  const query = new URLSearchParams(queryText);
  const [, bucket = "", ...rest] = path.split("/");
  const key = rest.length > 0 ? decodeURIComponent(rest.join("/")) : "";
  const bucketArn = `arn:aws:s3:::${bucket}`;
  const objectArn = `arn:aws:s3:::${bucket}/${key}`;
  const on = (operation: string, action: string, resource = objectArn, more: Check[] = []) => ({
    service: "s3" as const,
    operation,
    bucket,
    ...(key && { key }),
    checks: [{ action, resource }, ...more],
  });
  const { method } = request;
  if (!bucket) return on("ListBuckets", "s3:ListAllMyBuckets", "*");
  if (!key) {
    if (method === "PUT") return on("CreateBucket", "s3:CreateBucket", bucketArn);
    if (method === "DELETE") return on("DeleteBucket", "s3:DeleteBucket", bucketArn);
    if (method === "HEAD") return on("HeadBucket", "s3:ListBucket", bucketArn);
    if (method === "POST" && query.has("delete")) {
      const keys = [...String(bodyText(request)).matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1] ?? "");
      return {
        service: "s3" as const,
        operation: "DeleteObjects",
        bucket,
        checks: keys.map((k) => ({ action: "s3:DeleteObject", resource: `${bucketArn}/${unescapeXml(k)}` })),
      };
    }
    if (query.has("location")) return on("GetBucketLocation", "s3:GetBucketLocation", bucketArn);
    if (query.has("uploads")) return on("ListMultipartUploads", "s3:ListBucketMultipartUploads", bucketArn);
    if (query.has("versions")) return on("ListObjectVersions", "s3:ListBucketVersions", bucketArn);
    if (query.has("versioning")) return on("GetBucketVersioning", "s3:GetBucketVersioning", bucketArn);
    if (method === "GET") {
      return on(query.get("list-type") === "2" ? "ListObjectsV2" : "ListObjects", "s3:ListBucket", bucketArn);
    }
    return on(`${method} bucket`, `s3:Unknown${method}Bucket`, bucketArn);
  }
  const uploadId = query.has("uploadId");
  if (method === "GET" || method === "HEAD") {
    if (uploadId) return on("ListParts", "s3:ListMultipartUploadParts");
    if (query.has("tagging")) return on("GetObjectTagging", "s3:GetObjectTagging");
    if (query.has("acl")) return on("GetObjectAcl", "s3:GetObjectAcl");
    return on(method === "GET" ? "GetObject" : "HeadObject", "s3:GetObject");
  }
  if (method === "PUT") {
    if (uploadId) return on("UploadPart", "s3:PutObject");
    if (query.has("tagging")) return on("PutObjectTagging", "s3:PutObjectTagging");
    const source = header(request, "x-amz-copy-source");
    if (source) {
      const from = decodeURIComponent(source.replace(/^\//, "").split("?")[0] ?? "");
      return on("CopyObject", "s3:PutObject", objectArn, [
        { action: "s3:GetObject", resource: `arn:aws:s3:::${from}` },
      ]);
    }
    return on("PutObject", "s3:PutObject");
  }
  if (method === "POST") {
    if (query.has("uploads")) return on("CreateMultipartUpload", "s3:PutObject");
    if (uploadId) return on("CompleteMultipartUpload", "s3:PutObject");
  }
  if (method === "DELETE") {
    if (uploadId) return on("AbortMultipartUpload", "s3:AbortMultipartUpload");
    return on("DeleteObject", "s3:DeleteObject");
  }
  return on(`${method} object`, `s3:Unknown${method}Object`);
}

function header(request: RequestLike, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(",") : value;
}

/** A form-encoded body (Query protocol) as fauxqs parses it, or from text. */
function formOf(request: RequestLike): Record<string, unknown> {
  const body = request.body;
  if (typeof body === "object" && body !== null && !Buffer.isBuffer(body))
    return body as Record<string, unknown>;
  const contentType = header(request, "content-type") ?? "";
  if (!contentType.includes("x-www-form-urlencoded")) return {};
  return Object.fromEntries(new URLSearchParams(String(bodyText(request))));
}

function bodyText(request: RequestLike): string {
  const body = request.body;
  if (Buffer.isBuffer(body)) return body.toString("utf8");
  return typeof body === "string" ? body : "";
}

function unescapeXml(text: string): string {
  return text
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&");
}
