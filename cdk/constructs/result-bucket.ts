// The bucket holding flow runs' records (runs/<flowRunId>/...), their signing keys
// (keys/<flowRunId>) and the sweep's open-run markers (open/<flowRunId>): private, TLS only,
// expired after the retention. Grants name the exact S3 actions squall uses, on those prefixes only.
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import { Grant, type IGrantable } from "aws-cdk-lib/aws-iam";
import { BlockPublicAccess, Bucket, BucketEncryption } from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import { OPEN_PREFIX } from "../../sdk/aws/record/open-runs.js";
import { KEYS_PREFIX } from "../../sdk/aws/wire/run-key.js";
import { LEASES_PREFIX } from "../../sdk/aws/worker/tag-leases.js";
import { suppressNag } from "./nag.js";

/** Where squall keeps everything of a flow run. */
export const RUNS_PREFIX = "runs/";
/**
 * Where each flow run's caller writes the key its messages are signed with, and marks the run
 * open until the coordinator sees it final: the sweep lists these markers.
 */
export { KEYS_PREFIX, LEASES_PREFIX, OPEN_PREFIX };

export interface ResultBucketProps {
  /** Days a flow run's record is kept. @default 30 */
  readonly retentionDays?: number;
  /**
   * `RemovalPolicy.DESTROY` deletes the bucket, its objects first, with the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

export class ResultBucket extends Construct {
  readonly bucket: Bucket;

  constructor(scope: Construct, id: string, props: ResultBucketProps = {}) {
    super(scope, id);
    const retentionDays = props.retentionDays ?? 30;
    if (!Number.isInteger(retentionDays) || retentionDays < 1) {
      throw new Error(`Expected \`retentionDays\` to be an integer >= 1, got \`${retentionDays}\``);
    }
    const destroy = props.removalPolicy === RemovalPolicy.DESTROY;
    this.bucket = new Bucket(this, "Bucket", {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: BucketEncryption.S3_MANAGED,
      // Records are written once (segments) or replaced under If-Match (summaries): old
      // versions would only cost storage.
      versioned: false,
      lifecycleRules: [
        { id: "ExpireRuns", prefix: RUNS_PREFIX, expiration: Duration.days(retentionDays) },
        // A key outliving its run would still sign for it: it goes with the record.
        { id: "ExpireRunKeys", prefix: KEYS_PREFIX, expiration: Duration.days(retentionDays) },
        // A marker outliving its run's record would be listed by every sweep, for nothing.
        { id: "ExpireOpenMarkers", prefix: OPEN_PREFIX, expiration: Duration.days(retentionDays) },
        { id: "AbortUploads", abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      // A bucket is only deleted empty: DESTROY would fail on any bucket that ran a flow.
      autoDeleteObjects: destroy,
    });
    suppressNag(this.bucket, [
      {
        id: "AwsSolutions-S1",
        reason:
          "The bucket holds transient flow-run records written and read only by this stack's functions and its callers; server access logs would cost a log object per request on the hot path and add nothing that CloudTrail data events cannot give when wanted.",
      },
    ]);
  }

  /**
   * What a function of the stack (or a caller) does with run records: GET and HEAD objects,
   * PUT them (conditional writes included), and list the bucket, without which S3 answers a
   * missing key with 403 instead of the 404 squall waits on. `largeValues`: it also writes values
   * large enough to go up in parts, and may abort an upload that failed (else the lifecycle
   * rule removes its parts after a day).
   */
  grantRecords(grantee: IGrantable, options: { readonly largeValues?: boolean } = {}): void {
    const abort = options.largeValues ? ["s3:AbortMultipartUpload"] : [];
    this.bucket.grants.actionsOnObjectKeys(
      grantee,
      `${RUNS_PREFIX}*`,
      "s3:GetObject",
      "s3:PutObject",
      ...abort,
    );
    Grant.addToPrincipal({ grantee, actions: ["s3:ListBucket"], resourceArns: [this.bucket.bucketArn] });
  }

  /**
   * Run keys: a caller writes its run's key (and marks it cancelled there); workers and the
   * coordinator read it to check and sign messages. Reading `runs/` grants neither.
   */
  grantRunKeys(grantee: IGrantable, access: "read" | "write"): void {
    this.bucket.grants.actionsOnObjectKeys(
      grantee,
      `${KEYS_PREFIX}*`,
      access === "read" ? "s3:GetObject" : "s3:PutObject",
    );
  }

  /**
   * Open-run markers: a caller opens its run ("open", a conditional create); the coordinator
   * ("keep") reads and removes them, lists them to sweep, and puts one back while it writes to
   * a run already final.
   */
  grantOpenMarkers(grantee: IGrantable, access: "open" | "keep"): void {
    const actions =
      access === "open" ? ["s3:PutObject"] : ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"];
    this.bucket.grants.actionsOnObjectKeys(grantee, `${OPEN_PREFIX}*`, ...actions);
  }

  /**
   * Leases on the slots of limited tags (`leases/<tag>/<slot>`): a worker creates one
   * (`If-None-Match: *`) before a run carrying the tag starts, takes over an expired one
   * (`If-Match`), lists a tag's leases when its first try was taken (`s3:ListBucket`, which
   * `grantRecords` gives), and deletes its own when the run ends.
   */
  grantTagLeases(grantee: IGrantable): void {
    this.bucket.grants.actionsOnObjectKeys(grantee, `${LEASES_PREFIX}*`, "s3:PutObject", "s3:DeleteObject");
  }
}
