// Reads what the harness needs from a synthesized CloudFormation template: the functions with
// their code, limits, roles and environment; the event source mappings and queues that feed them;
// the IAM policies attached to each role; and the outputs. Values stay unresolved here
// (intrinsics.ts resolves them once the resources exist).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly Metadata?: Record<string, unknown>;
}

export interface CfnTemplate {
  readonly Resources: Record<string, CfnResource>;
  readonly Outputs?: Record<string, { readonly Value: unknown; readonly Description?: string }>;
}

export interface FunctionSpec {
  readonly logicalId: string;
  /** `file.export`, as Lambda's Node.js runtime reads it. */
  readonly handler: string;
  readonly runtime: string;
  /** The folder Lambda would unpack the code into (LAMBDA_TASK_ROOT). */
  readonly codeDir: string;
  /** Lambda's defaults when the template says nothing: 3 s and 128 MB. */
  readonly timeoutSeconds: number;
  readonly memoryMb: number;
  readonly roleLogicalId: string | undefined;
  /** Unresolved: `{ Ref }` and `Fn::GetAtt` still in place. */
  readonly environment: Readonly<Record<string, unknown>>;
}

export interface MappingSpec {
  readonly logicalId: string;
  readonly functionLogicalId: string;
  readonly queueLogicalId: string;
  /** Lambda's defaults for SQS: 10 messages, no batching window. */
  readonly batchSize: number;
  readonly batchingWindowSeconds: number;
  readonly maximumConcurrency: number | undefined;
  readonly reportBatchItemFailures: boolean;
  readonly enabled: boolean;
}

export interface QueueSpec {
  readonly logicalId: string;
  /** The queue's attributes as CreateQueue takes them, unresolved (RedrivePolicy names its DLQ). */
  readonly properties: Readonly<Record<string, unknown>>;
  readonly deadLetterQueueLogicalId: string | undefined;
}

export interface PolicyStatement {
  readonly Sid?: string;
  readonly Effect: "Allow" | "Deny";
  readonly Action?: unknown;
  readonly NotAction?: unknown;
  readonly Resource?: unknown;
  readonly NotResource?: unknown;
  readonly Condition?: unknown;
}

export interface PolicySpec {
  readonly logicalId: string;
  readonly type: "AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy" | "AWS::IAM::Role";
  /** ManagedPolicyName or PolicyName, unresolved. */
  readonly name: unknown;
  readonly statements: readonly PolicyStatement[];
  /** Logical ids of the roles it is attached to. */
  readonly roles: readonly string[];
}

export interface InvokeConfigSpec {
  readonly functionLogicalId: string;
  readonly maximumRetryAttempts: number | undefined;
  readonly maximumEventAgeSeconds: number | undefined;
}

export interface StackTemplate {
  readonly name: string;
  readonly template: CfnTemplate;
  readonly functions: readonly FunctionSpec[];
  readonly mappings: readonly MappingSpec[];
  readonly queues: readonly QueueSpec[];
  readonly buckets: readonly string[];
  readonly policies: readonly PolicySpec[];
  readonly invokeConfigs: readonly InvokeConfigSpec[];
}

/** Reads `<stack>.template.json` from a cloud assembly (cdk.out). */
export function readStackTemplate(cloudAssembly: string, stackName: string): StackTemplate {
  const path = join(cloudAssembly, `${stackName}.template.json`);
  if (!existsSync(path)) {
    throw new Error(`No template for stack '${stackName}' in ${cloudAssembly}: run cdk synth first.`);
  }
  const template = JSON.parse(readFileSync(path, "utf8")) as CfnTemplate;
  return parseStackTemplate(template, stackName, (resource, logicalId) =>
    codeDirOf(cloudAssembly, stackName, resource, logicalId),
  );
}

/** Reads a template already in memory; `codeDir` says where each function's code is. */
export function parseStackTemplate(
  template: CfnTemplate,
  name: string,
  codeDir: (resource: CfnResource, logicalId: string) => string,
): StackTemplate {
  const entries = Object.entries(template.Resources ?? {});
  const ofType = (type: string) => entries.filter(([, resource]) => resource.Type === type);

  const functions = ofType("AWS::Lambda::Function").map(([logicalId, resource]): FunctionSpec => {
    const p = resource.Properties ?? {};
    if (p.PackageType === "Image")
      throw new Error(`${logicalId}: container image functions are not supported`);
    return {
      logicalId,
      handler: String(p.Handler ?? "index.handler"),
      runtime: String(p.Runtime ?? ""),
      codeDir: codeDir(resource, logicalId),
      timeoutSeconds: Number(p.Timeout ?? 3),
      memoryMb: Number(p.MemorySize ?? 128),
      roleLogicalId: logicalIdIn(p.Role),
      environment: ((p.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ??
        {}) as Record<string, unknown>,
    };
  });

  const mappings = ofType("AWS::Lambda::EventSourceMapping").map(([logicalId, resource]): MappingSpec => {
    const p = resource.Properties ?? {};
    const functionLogicalId = logicalIdIn(p.FunctionName);
    const queueLogicalId = logicalIdIn(p.EventSourceArn);
    if (!functionLogicalId || !queueLogicalId) {
      throw new Error(
        `${logicalId}: expected FunctionName and EventSourceArn to name resources of the stack`,
      );
    }
    const scaling = p.ScalingConfig as { MaximumConcurrency?: number } | undefined;
    return {
      logicalId,
      functionLogicalId,
      queueLogicalId,
      batchSize: Number(p.BatchSize ?? 10),
      batchingWindowSeconds: Number(p.MaximumBatchingWindowInSeconds ?? 0),
      maximumConcurrency: scaling?.MaximumConcurrency,
      reportBatchItemFailures: ((p.FunctionResponseTypes as string[] | undefined) ?? []).includes(
        "ReportBatchItemFailures",
      ),
      enabled: p.Enabled !== false,
    };
  });

  const queues = ofType("AWS::SQS::Queue").map(([logicalId, resource]): QueueSpec => {
    const properties = resource.Properties ?? {};
    const redrive = properties.RedrivePolicy as { deadLetterTargetArn?: unknown } | undefined;
    return { logicalId, properties, deadLetterQueueLogicalId: logicalIdIn(redrive?.deadLetterTargetArn) };
  });

  const policies: PolicySpec[] = [];
  for (const [logicalId, resource] of entries) {
    const p = resource.Properties ?? {};
    if (resource.Type === "AWS::IAM::Policy" || resource.Type === "AWS::IAM::ManagedPolicy") {
      policies.push({
        logicalId,
        type: resource.Type,
        name: resource.Type === "AWS::IAM::Policy" ? p.PolicyName : p.ManagedPolicyName,
        statements: statementsOf(p.PolicyDocument, logicalId),
        roles: ((p.Roles as unknown[] | undefined) ?? []).map(logicalIdIn).filter(isString),
      });
    }
    if (resource.Type === "AWS::IAM::Role") {
      // Inline policies, and managed policies of this template attached by ARN (a Ref).
      for (const inline of (p.Policies as { PolicyName: unknown; PolicyDocument: unknown }[] | undefined) ??
        []) {
        policies.push({
          logicalId,
          type: "AWS::IAM::Role",
          name: inline.PolicyName,
          statements: statementsOf(inline.PolicyDocument, logicalId),
          roles: [logicalId],
        });
      }
    }
  }
  for (const [roleId, role] of ofType("AWS::IAM::Role")) {
    for (const arn of (role.Properties?.ManagedPolicyArns as unknown[] | undefined) ?? []) {
      const policyId = logicalIdIn(arn);
      const policy = policies.find((candidate) => candidate.logicalId === policyId);
      if (policy) (policy.roles as string[]).push(roleId);
      else {
        throw new Error(
          `${roleId} attaches the managed policy ${JSON.stringify(arn)}, which is not in the template: the harness knows only the template's policies`,
        );
      }
    }
  }

  const invokeConfigs = ofType("AWS::Lambda::EventInvokeConfig").map(([logicalId, resource]) => {
    const p = resource.Properties ?? {};
    const functionLogicalId = logicalIdIn(p.FunctionName);
    if (!functionLogicalId)
      throw new Error(`${logicalId}: expected FunctionName to name a function of the stack`);
    return {
      functionLogicalId,
      maximumRetryAttempts: p.MaximumRetryAttempts === undefined ? undefined : Number(p.MaximumRetryAttempts),
      maximumEventAgeSeconds:
        p.MaximumEventAgeInSeconds === undefined ? undefined : Number(p.MaximumEventAgeInSeconds),
    };
  });

  return {
    name,
    template,
    functions,
    mappings,
    queues,
    buckets: ofType("AWS::S3::Bucket").map(([logicalId]) => logicalId),
    policies,
    invokeConfigs,
  };
}

/** The logical id a `{ Ref }` or `{ Fn::GetAtt }` names, if the value is one. */
export function logicalIdIn(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const ref = (value as { Ref?: unknown }).Ref;
  if (typeof ref === "string") return ref.startsWith("AWS::") ? undefined : ref;
  const getAtt = (value as { "Fn::GetAtt"?: unknown })["Fn::GetAtt"];
  if (Array.isArray(getAtt) && typeof getAtt[0] === "string") return getAtt[0];
  if (typeof getAtt === "string") return getAtt.split(".")[0];
  return undefined;
}

function statementsOf(document: unknown, logicalId: string): PolicyStatement[] {
  const statement = (document as { Statement?: unknown } | undefined)?.Statement;
  if (statement === undefined) throw new Error(`${logicalId}: a policy document without Statement`);
  return (Array.isArray(statement) ? statement : [statement]) as PolicyStatement[];
}

/** Where cdk synth put a function's code: its asset folder (`aws:asset:path`), else the assets manifest's. */
function codeDirOf(
  cloudAssembly: string,
  stackName: string,
  resource: CfnResource,
  logicalId: string,
): string {
  const assetPath = resource.Metadata?.["aws:asset:path"];
  if (typeof assetPath === "string") return join(cloudAssembly, assetPath);
  const key = (resource.Properties?.Code as { S3Key?: unknown } | undefined)?.S3Key;
  const manifestPath = join(cloudAssembly, `${stackName}.assets.json`);
  if (typeof key === "string" && existsSync(manifestPath)) {
    const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as {
      files?: Record<
        string,
        { source: { path: string }; destinations: Record<string, { objectKey: string }> }
      >;
    };
    for (const file of Object.values(manifest.files ?? {})) {
      if (Object.values(file.destinations).some((destination) => destination.objectKey === key)) {
        return join(cloudAssembly, file.source.path);
      }
    }
  }
  throw new Error(`${logicalId}: cannot tell where its code is (no aws:asset:path, no asset for its S3Key)`);
}

function isString(value: unknown): value is string {
  return typeof value === "string";
}
