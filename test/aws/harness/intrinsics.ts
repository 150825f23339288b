// Resolves the intrinsic functions a synthesized template uses (Ref, Fn::GetAtt, Fn::Join,
// Fn::Sub, Fn::Select, Fn::Split) against the resources the harness created for it.

/** What each logical id became: its Ref value and its attributes (Arn, QueueName...). */
export interface PhysicalResource {
  readonly ref: string;
  readonly attributes: Readonly<Record<string, string>>;
}

export interface ResolveContext {
  readonly resources: ReadonlyMap<string, PhysicalResource>;
  /** AWS::Region, AWS::AccountId, AWS::Partition, AWS::StackName, AWS::StackId, AWS::URLSuffix. */
  readonly pseudo: Readonly<Record<string, string>>;
}

/** The value with every intrinsic replaced by what it evaluates to. */
export function resolve(value: unknown, context: ResolveContext): unknown {
  if (Array.isArray(value)) return value.map((item) => resolve(item, context));
  if (typeof value !== "object" || value === null) return value;
  const keys = Object.keys(value);
  const only = keys.length === 1 ? keys[0] : undefined;
  const argument = only === undefined ? undefined : (value as Record<string, unknown>)[only];
  switch (only) {
    case "Ref":
      return ref(String(argument), context);
    case "Fn::GetAtt": {
      const [logicalId, attribute] = Array.isArray(argument)
        ? [String(argument[0]), String(resolve(argument[1], context))]
        : String(argument).split(/\.(.*)/s);
      return getAtt(String(logicalId), String(attribute), context);
    }
    case "Fn::Join": {
      const [separator, parts] = argument as [string, unknown];
      return (resolve(parts, context) as unknown[]).map(String).join(separator);
    }
    case "Fn::Sub": {
      const [text, variables] = Array.isArray(argument)
        ? [String(argument[0]), resolve(argument[1] ?? {}, context) as Record<string, unknown>]
        : [String(argument), {}];
      return text.replace(/\$\{([^}!][^}]*)\}/g, (_, name: string) => {
        if (name in variables) return String(variables[name]);
        const [logicalId, attribute] = name.split(/\.(.*)/s);
        return attribute ? getAtt(String(logicalId), attribute, context) : ref(name, context);
      });
    }
    case "Fn::Select": {
      const [index, list] = argument as [unknown, unknown];
      return (resolve(list, context) as unknown[])[Number(resolve(index, context))];
    }
    case "Fn::Split": {
      const [separator, text] = argument as [string, unknown];
      return String(resolve(text, context)).split(separator);
    }
    default:
      if (only?.startsWith("Fn::")) throw new Error(`The harness cannot resolve ${only}`);
      return Object.fromEntries(
        Object.entries(value as Record<string, unknown>).map(([key, item]) => [key, resolve(item, context)]),
      );
  }
}

/** As `resolve`, for values that must come out as a string. */
export function resolveString(value: unknown, context: ResolveContext): string {
  const resolved = resolve(value, context);
  if (typeof resolved === "object" && resolved !== null) {
    throw new Error(
      `Expected ${JSON.stringify(value)} to resolve to a string, got ${JSON.stringify(resolved)}`,
    );
  }
  return String(resolved);
}

function ref(name: string, context: ResolveContext): string {
  if (name.startsWith("AWS::")) {
    const pseudo = context.pseudo[name];
    if (pseudo === undefined) throw new Error(`The harness has no value for ${name}`);
    return pseudo;
  }
  const resource = context.resources.get(name);
  if (!resource) throw new Error(`Ref to ${name}, which the harness did not create`);
  return resource.ref;
}

function getAtt(logicalId: string, attribute: string, context: ResolveContext): string {
  const value = context.resources.get(logicalId)?.attributes[attribute];
  if (value === undefined)
    throw new Error(`Fn::GetAtt ${logicalId}.${attribute}: the harness does not have it`);
  return value;
}
