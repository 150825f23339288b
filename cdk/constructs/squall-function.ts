// One of squall's functions: a generated entry bundled with local esbuild (no Docker), its own
// role with no managed policy (the stack grants each function what it uses), and its own log group.
import { join } from "node:path";
import { type Duration, Names, type RemovalPolicy } from "aws-cdk-lib";
import { type IGrantable, type IPrincipal, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { type Architecture, Runtime } from "aws-cdk-lib/aws-lambda";
import { NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { entrySource, type FunctionKind, writeEntry } from "./entries.js";

/** Memory and time limits of one function. */
export interface FunctionSettings {
  /** @default 1024 */
  readonly memorySize?: number;
  /** @default the function's own: 60 s for the worker and coordinator, 900 s for the flow-runner */
  readonly timeout?: Duration;
}

export interface SquallFunctionProps {
  readonly kind: FunctionKind;
  /** The flows module, absolute. */
  readonly flows: string;
  /** Where esbuild runs and where the lock file is; the entry is written under `<projectRoot>/cdk.out`. */
  readonly projectRoot: string;
  readonly memorySize: number;
  readonly timeout: Duration;
  readonly architecture: Architecture;
  readonly logRetention: RetentionDays;
  /** Of the log group. */
  readonly removalPolicy: RemovalPolicy;
  readonly environment: Readonly<Record<string, string>>;
}

/** The runtime squall's functions run on, and the esbuild target their bundles are built for. */
export const FUNCTION_RUNTIME = Runtime.NODEJS_24_X;
export const BUNDLE_TARGET = "node24";

/**
 * Lets CommonJS packages bundled into an ES module call require() for Node's built-ins.
 * The name is squall's own, so that it cannot clash with a `createRequire` of the bundle.
 */
const REQUIRE_BANNER =
  'import { createRequire as __squallCreateRequire } from "node:module"; const require = __squallCreateRequire(import.meta.url);';

export class SquallFunction extends Construct implements IGrantable {
  readonly function: NodejsFunction;
  readonly logGroup: LogGroup;
  readonly grantPrincipal: IPrincipal;

  constructor(scope: Construct, id: string, props: SquallFunctionProps) {
    super(scope, id);
    const role = new Role(this, "Role", {
      assumedBy: new ServicePrincipal("lambda.amazonaws.com"),
      description: `squall ${props.kind} function`,
    });
    this.grantPrincipal = role;
    this.logGroup = new LogGroup(this, "Logs", {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    // Writing to its own group is all the logging it needs (AWSLambdaBasicExecutionRole would
    // also let it create groups and write to any).
    this.logGroup.grantWrite(role);

    const entry = writeEntry(
      join(props.projectRoot, "cdk.out", ".squall"),
      Names.uniqueId(this),
      entrySource(props.kind, props.flows),
    );
    this.function = new NodejsFunction(this, "Function", {
      entry,
      handler: "handler",
      projectRoot: props.projectRoot,
      runtime: FUNCTION_RUNTIME,
      architecture: props.architecture,
      memorySize: props.memorySize,
      timeout: props.timeout,
      role,
      logGroup: this.logGroup,
      environment: { ...props.environment },
      bundling: {
        // The flows module may await at top level (the guide's scripts call their flows), which
        // only an ES module can do.
        format: OutputFormat.ESM,
        target: BUNDLE_TARGET,
        banner: REQUIRE_BANNER,
        // Tasks are found by their functions' names; esbuild renames a binding that clashes
        // with another (`sayHello` becoming `sayHello2`) unless told to keep names.
        keepNames: true,
        minify: false,
        sourceMap: false,
        // The AWS SDK versions squall pins and tests with, not whichever the runtime carries.
        bundleAwsSDK: true,
        // The embedded emulator (squall/aws's local environment) never runs in a function.
        externalModules: ["fauxqs"],
      },
    });
  }
}
