// The thumbnails example deployed: squall with the flows module thumbnails.ts, sharp installed
// into the functions' node_modules for Lambda's platform, and a worker pool `large` with more
// memory, whose worker may write thumbnails/ of the stack's bucket and nothing else besides
// what squall grants it.
import { Duration, Stack, type StackProps } from "aws-cdk-lib";
import type { Architecture } from "aws-cdk-lib/aws-lambda";
import type { CfnBucket } from "aws-cdk-lib/aws-s3";
import { NagSuppressions } from "cdk-nag";
import type { Construct } from "constructs";
import { Squall } from "squall/cdk";

export interface ThumbnailsStackProps extends StackProps {
  /** @default Architecture.ARM_64 */
  readonly architecture?: Architecture;
  /** The repository's root, where the flows module and the lock file are. @default process.cwd() */
  readonly projectRoot?: string;
}

export class ThumbnailsStack extends Stack {
  readonly squall: Squall;

  constructor(scope: Construct, id: string, props: ThumbnailsStackProps = {}) {
    super(scope, id, props);
    this.squall = new Squall(this, "Squall", {
      flows: "examples/thumbnails/thumbnails.ts",
      projectRoot: props.projectRoot,
      architecture: props.architecture,
      // sharp loads a native binary for its platform: npm installs it at synth for linux, glibc and
      // the functions' architecture, beside the bundle, instead of esbuild bundling it.
      bundling: { nodeModules: ["sharp"] },
      // Lambda gives CPU in proportion to memory: 3008 MB is about two vCPUs for libvips.
      pools: { large: { memorySize: 3008, timeout: Duration.minutes(2), maxConcurrency: 20 } },
    });
    const large = this.squall.pools.get("large");
    if (!large) throw new Error("The pool `large` is missing from the Squall construct.");
    // makeThumbnail writes thumbnails/<flowRunId>/... of the stack's own bucket.
    const bucket = this.squall.results.bucket;
    bucket.grants.actionsOnObjectKeys(large.worker, "thumbnails/*", "s3:PutObject");
    // For projects that run cdk-nag's AwsSolutions pack: the one finding the example adds, answered.
    const bucketId = this.getLogicalId(bucket.node.defaultChild as CfnBucket);
    NagSuppressions.addResourceSuppressions(
      large.worker,
      [
        {
          id: "AwsSolutions-IAM5",
          reason:
            "Thumbnails go under thumbnails/<flowRunId>/ with ids minted at run time: s3:PutObject is granted on that prefix of the stack's own bucket only.",
          appliesTo: [`Resource::<${bucketId}.Arn>/thumbnails/*`],
        },
      ],
      true,
    );
  }
}
