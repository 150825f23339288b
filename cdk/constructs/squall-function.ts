// One of squall's functions: a generated entry bundled with local esbuild (no Docker), its own
// role with no managed policy (the stack grants each function what it uses), and its own log group.
import { join } from "node:path";
import { type Duration, Names, type RemovalPolicy, type Size } from "aws-cdk-lib";
import type { ISecurityGroup, IVpc, SubnetSelection } from "aws-cdk-lib/aws-ec2";
import {
  type IGrantable,
  type IPrincipal,
  PolicyStatement,
  Role,
  ServicePrincipal,
} from "aws-cdk-lib/aws-iam";
import { Architecture, type ILayerVersion, Runtime } from "aws-cdk-lib/aws-lambda";
import { NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { entrySource, type FunctionKind, writeEntry } from "./entries.js";
import { suppressNag } from "./nag.js";

/** How one function runs: its limits, and where (layers, a VPC). */
export interface FunctionSettings {
  /** @default 1024 */
  readonly memorySize?: number;
  /** @default the function's own: 60 s for the worker and coordinator, 900 s for the flow-runner */
  readonly timeout?: Duration;
  /** Lambda layers, e.g. a native library or a model the tasks load from /opt. @default none */
  readonly layers?: readonly ILayerVersion[];
  /**
   * A VPC to run in, to reach a database or a service inside it. The function then reaches SQS
   * and S3 only through a NAT gateway or VPC endpoints (gateway for S3, interface for SQS):
   * give it one or the other. @default no VPC
   */
  readonly vpc?: IVpc;
  /** @default the VPC's private subnets */
  readonly vpcSubnets?: SubnetSelection;
  /** @default one created for the function, allowing all outbound traffic */
  readonly securityGroups?: readonly ISecurityGroup[];
  /** /tmp, from 512 MiB to 10 GiB. @default Size.mebibytes(512) */
  readonly ephemeralStorageSize?: Size;
  /**
   * Concurrency reserved for (and capped at) this function, out of the account's. @default none:
   * it shares the account's unreserved concurrency
   */
  readonly reservedConcurrentExecutions?: number;
}

/**
 * Bundling options for the functions that carry the flows module (the worker and the
 * flow-runner), passed to NodejsFunction's esbuild. Only those that keep the bundle what squall
 * reads: it finds tasks by name and maps stack frames to modules through esbuild's comments, so
 * minifying and renaming stay off.
 */
export interface FlowsBundling {
  /**
   * Packages installed into the bundle's node_modules instead of bundled: native ones such as
   * `sharp`, installed by npm at synth for Lambda's platform (linux, glibc, the functions'
   * architecture), whatever the machine that synthesizes. @default none
   */
  readonly nodeModules?: readonly string[];
  /** Packages left out of the bundle, e.g. ones a layer provides. @default none (fauxqs is always left out) */
  readonly externalModules?: readonly string[];
  /** Identifiers replaced with constant expressions at build time (esbuild's `define`). @default none */
  readonly define?: Readonly<Record<string, string>>;
  /** esbuild loaders by file extension, e.g. `{ ".onnx": "file" }`. @default esbuild's */
  readonly loader?: Readonly<Record<string, string>>;
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
  readonly settings?: FunctionSettings;
  readonly bundling?: FlowsBundling;
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
    const settings = props.settings ?? {};
    const bundling = props.bundling ?? {};
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
      layers: settings.layers && [...settings.layers],
      vpc: settings.vpc,
      vpcSubnets: settings.vpcSubnets,
      securityGroups: settings.securityGroups && [...settings.securityGroups],
      ephemeralStorageSize: settings.ephemeralStorageSize,
      reservedConcurrentExecutions: settings.reservedConcurrentExecutions,
      bundling: {
        nodeModules: bundling.nodeModules && [...bundling.nodeModules],
        // npm installs those for Lambda's platform, not the machine that synthesizes (sharp's
        // documented way to install for another platform; npm 10.4 or later).
        environment: bundling.nodeModules && {
          npm_config_os: "linux",
          npm_config_cpu: props.architecture === Architecture.X86_64 ? "x64" : "arm64",
          npm_config_libc: "glibc",
        },
        define: bundling.define && { ...bundling.define },
        loader: bundling.loader && { ...bundling.loader },
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
        externalModules: ["fauxqs", ...(bundling.externalModules ?? [])],
      },
    });
    if (settings.vpc) {
      // Lambda creates and removes the function's network interfaces in the VPC as this role;
      // EC2 offers no resource-level scope for these actions (AWSLambdaVPCAccessExecutionRole's).
      role.addToPrincipalPolicy(
        new PolicyStatement({
          sid: "NetworkInterfacesInVpc",
          actions: [
            "ec2:CreateNetworkInterface",
            "ec2:DescribeNetworkInterfaces",
            "ec2:DescribeSubnets",
            "ec2:DeleteNetworkInterface",
            "ec2:AssignPrivateIpAddresses",
            "ec2:UnassignPrivateIpAddresses",
          ],
          resources: ["*"],
        }),
      );
      suppressNag(
        role,
        [
          {
            id: "AwsSolutions-IAM5",
            reason:
              "Lambda manages a VPC function's network interfaces with these EC2 actions, which take no resource-level scope (the actions of AWSLambdaVPCAccessExecutionRole, granted inline rather than as a managed policy).",
            appliesTo: ["Resource::*"],
          },
        ],
        true,
      );
    }
  }
}
