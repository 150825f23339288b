// Names and ARNs for a stack's resources as CloudFormation makes them when the template names
// none: `<stack>-<logicalId>-<random>`, cut to the service's limit (buckets in lower case).
import { randomBytes } from "node:crypto";
import type { PhysicalResource } from "./intrinsics.js";

export interface Place {
  readonly stackName: string;
  readonly region: string;
  readonly accountId: string;
}

const SUFFIX = () => randomBytes(8).toString("hex").toUpperCase().slice(0, 12);

/** A name CloudFormation would generate, at most `max` characters. */
export function generatedName(place: Place, logicalId: string, max: number, lowerCase = false): string {
  const suffix = SUFFIX();
  const head = `${place.stackName}-${logicalId}`.slice(0, max - suffix.length - 1);
  const name = `${head}-${suffix}`;
  return lowerCase ? name.toLowerCase() : name;
}

export function queueResource(place: Place, name: string, url: string): PhysicalResource {
  const arn = `arn:aws:sqs:${place.region}:${place.accountId}:${name}`;
  return { ref: url, attributes: { Arn: arn, QueueName: name, QueueUrl: url } };
}

export function bucketResource(place: Place, name: string): PhysicalResource {
  return {
    ref: name,
    attributes: {
      Arn: `arn:aws:s3:::${name}`,
      DomainName: `${name}.s3.amazonaws.com`,
      RegionalDomainName: `${name}.s3.${place.region}.amazonaws.com`,
    },
  };
}

export function functionResource(place: Place, name: string): PhysicalResource {
  return { ref: name, attributes: { Arn: functionArn(place, name) } };
}

export function functionArn(place: Place, name: string): string {
  return `arn:aws:lambda:${place.region}:${place.accountId}:function:${name}`;
}

export function roleResource(place: Place, name: string): PhysicalResource {
  return {
    ref: name,
    attributes: { Arn: `arn:aws:iam::${place.accountId}:role/${name}`, RoleId: `AROA${SUFFIX()}` },
  };
}

export function managedPolicyResource(place: Place, name: string): PhysicalResource {
  const arn = `arn:aws:iam::${place.accountId}:policy/${name}`;
  return { ref: arn, attributes: { PolicyArn: arn } };
}

export function logGroupResource(place: Place, name: string): PhysicalResource {
  return {
    ref: name,
    attributes: { Arn: `arn:aws:logs:${place.region}:${place.accountId}:log-group:${name}:*` },
  };
}

export function stackArn(place: Place, stackId: string): string {
  return `arn:aws:cloudformation:${place.region}:${place.accountId}:stack/${place.stackName}/${stackId}`;
}

/** Any other resource: its Ref is a generated name, and it has no attributes the harness knows. */
export function otherResource(name: string): PhysicalResource {
  return { ref: name, attributes: {} };
}
