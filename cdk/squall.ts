// squall's AWS side as one construct: the result bucket, the task and completion queues (each
// with a dead-letter queue), and the worker, coordinator and flow-runner functions carrying the
// user's flows module. Each function is granted only what its handler does.
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { Aws, CfnOutput, Duration, RemovalPolicy, Stack } from "aws-cdk-lib";
import { Rule, RuleTargetInput, Schedule } from "aws-cdk-lib/aws-events";
import { LambdaFunction } from "aws-cdk-lib/aws-events-targets";
import { Architecture } from "aws-cdk-lib/aws-lambda";
import { RetentionDays } from "aws-cdk-lib/aws-logs";
import type { CfnBucket } from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import { ADDRESS_VARIABLES, DEFAULT_POOL, poolOutputKey, STACK_OUTPUTS } from "../sdk/aws/address.js";
import {
  FLOW_DEAD_LETTER_ARN_VARIABLE,
  FLOW_QUEUE_MAX_RECEIVE_COUNT,
  flowQueueVisibilitySeconds,
} from "../sdk/aws/flow-queue.js";
import {
  BUNDLED_MODULES_VARIABLE,
  DEAD_LETTER_ARN_VARIABLE,
  MAX_DEATHS_VARIABLE,
  OVERDUE_VARIABLE,
} from "../sdk/aws/handlers.js";
import { STACK_NAME_VARIABLE } from "../sdk/aws/own-address.js";
import type { FlowSchedule } from "../sdk/aws/schedules/definition.js";
import { listingOf, SCHEDULES_OUTPUT } from "../sdk/aws/schedules/definition.js";
import { POOL_NAME } from "../sdk/options.js";
import type { TagLimits } from "../sdk/runners/tag-slots.js";
import { bundledModules } from "./constructs/bundled-modules.js";
import { CallerPolicy } from "./constructs/caller-policy.js";
import { FlowSchedules } from "./constructs/flow-schedules.js";
import { suppressNag } from "./constructs/nag.js";
import {
  KEYS_PREFIX,
  LEASES_PREFIX,
  OPEN_PREFIX,
  ResultBucket,
  RUNS_PREFIX,
} from "./constructs/result-bucket.js";
import { type FlowsBundling, type FunctionSettings, SquallFunction } from "./constructs/squall-function.js";
import { tagLimitsEnvironment } from "./constructs/tag-limits.js";
import { WorkQueue } from "./constructs/work-queue.js";

export interface WorkerSettings extends FunctionSettings {
  /** Messages per invocation (each may pack many task runs). @default 10 */
  readonly batchSize?: number;
  /** @default Duration.seconds(0): invoke as soon as messages arrive */
  readonly maxBatchingWindow?: Duration;
  /** Concurrent invocations the task queue drives at most. @default 100 */
  readonly maxConcurrency?: number;
}

/**
 * A worker pool: a worker function of its own fed by a task queue of its own (with its
 * dead-letter queue), for tasks given `pool: name`. It takes none of `worker`'s settings.
 */
export interface PoolSettings extends WorkerSettings {
  /** @default the stack's `architecture` */
  readonly architecture?: Architecture;
}

/** Pools a stack may have besides the default one: each adds to the flow-runner's environment (4 KB in all). */
const MAX_POOLS = 10;

export interface CoordinatorSettings extends FunctionSettings {
  /** Outcome messages per invocation. @default 10 */
  readonly batchSize?: number;
  /** Waiting gathers more outcomes into one segment, one S3 PUT. @default Duration.seconds(1) */
  readonly maxBatchingWindow?: Duration;
  /**
   * How long after its flow returned a run may wait for its last outcomes before the sweep
   * (every 5 minutes) marks the missing ones Crashed. @default Duration.hours(1)
   */
  readonly overdue?: Duration;
  /**
   * Coordinator invocations at once, at most (the event source's MaximumConcurrency, 2 or
   * more): each writes to the records of the flow runs in its batch, and writers of one record
   * race for its next segment, so more of them buy contention, not speed. @default 5
   */
  readonly maxConcurrency?: number;
}

export interface FlowRunnerSettings extends FunctionSettings {
  /**
   * Flow runs the flow queue drives at once, at most (its event source's MaximumConcurrency, 2 to
   * 1000). @default Lambda's: as many as the account's concurrency allows
   */
  readonly maxConcurrency?: number;
}

export interface SquallProps {
  /**
   * The flows module the functions carry, relative to `projectRoot` (or absolute). Its tasks are
   * found by name, and its flows by the flow-runner. It is bundled, never imported at synth.
   */
  readonly flows: string;
  /** The project's root: its lock file and tsconfig.json; `flows` is relative to it. @default process.cwd() */
  readonly projectRoot?: string;
  /** Days a flow run's record (`runs/<flowRunId>/`) is kept. @default 30 */
  readonly retentionDays?: number;
  /** Of the bucket and the log groups; DESTROY empties the bucket first. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Deliveries of a task message before it goes to the dead-letter queue and its runs end
   * Crashed: a backstop. A throttled event source hands batches back unrun, raising receive
   * counts (AWS advises 5 or more); runs that kill their worker end by `maxDeaths` first.
   * At least `maxDeaths + 2`. @default 10
   */
  readonly maxReceiveCount?: number;
  /**
   * Times a run that may kill its worker is started alone and dies with it before it ends
   * Crashed, as the worker records (not as receive counts say). @default 3
   */
  readonly maxDeaths?: number;
  /**
   * How long a caller may go silent (no heartbeat) before the sweep ends its flow run Crashed:
   * the default for the stack's callers (they read it from the `CallerSilenceSeconds` output, or
   * the flow-runner from its environment; a caller's own `callerSilenceSeconds` wins), and the
   * bound for a run whose caller died before writing any heartbeat. Whole seconds, at least
   * 1. @default Duration.minutes(3)
   */
  readonly callerSilence?: Duration;
  /**
   * Environment variables of the functions that carry the flows module (the worker and the
   * flow-runner), e.g. a table's name for the tasks to read. `SQUALL_*` names are squall's, and
   * those Lambda reserves (AWS_REGION, AWS_LAMBDA_*, TZ, ...) are refused. @default none
   */
  readonly environment?: Readonly<Record<string, string>>;
  /** How the flows module is bundled into the worker and the flow-runner. @default squall's settings only */
  readonly bundling?: FlowsBundling;
  /** @default Architecture.ARM_64 */
  readonly architecture?: Architecture;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /** @default 1024 MB, 60 s, batches of 10, no batching window, 100 concurrent invocations */
  readonly worker?: WorkerSettings;
  /**
   * Concurrency limits by tag across the whole fleet (Prefect's task concurrency limits): at
   * most `limit` runs of tasks carrying the tag run at once, e.g. `{ db: 5 }` for
   * `task({ tags: ["db"] }, ...)`. Held with leases in the bucket (`leases/<tag>/<slot>`); a run
   * with no limited tag costs nothing more. @default none
   */
  readonly tagLimits?: TagLimits;
  /**
   * Worker pools besides the default one (`worker`), by name (lowercase letters, digits and `-`,
   * starting with a letter, up to 32; not `default`, the default pool's name): each a worker
   * function and a task queue with its dead-letter queue, reporting to the one coordinator. A
   * task given `pool: name` runs there; callers learn the pools from the `Pool*` outputs.
   * At most 10. @default none
   *
   * @example
   * pools: { large: { memorySize: 6144, timeout: Duration.minutes(10), maxConcurrency: 20 } }
   */
  readonly pools?: Readonly<Record<string, PoolSettings>>;
  /** @default 1024 MB, 60 s, batches of 10 gathered for up to 1 s, runs overdue after an hour */
  readonly coordinator?: CoordinatorSettings;
  /** @default 1024 MB, 900 s, the flow queue's runs at Lambda's concurrency */
  readonly flowRunner?: FlowRunnerSettings;
  /**
   * Flows started on schedules: each an EventBridge Scheduler schedule (in a schedule group of
   * the stack's) that invokes the flow-runner with `{ flow, parameters, schedule }`. Checked at
   * synth: names, one of `cron` and `rate`, the cron's fields, the time zone, the parameters.
   * Listed in the `Schedules` output, which `squall schedules --stack` reads. @default none
   *
   * @example
   * schedules: [{ name: "nightly-report", flow: "report", cron: "0 2 * * *", timezone: "Europe/Paris" }]
   */
  readonly schedules?: readonly FlowSchedule[];
}

/**
 * Outcomes the coordinator failed to record (S3 errors) are retried this many times, about an
 * hour at the default visibility, before they are set aside; the sweep then ends their runs.
 */
const COMPLETION_MAX_RECEIVE_COUNT = 10;

/**
 * Deploys squall's AWS side for a flows module. Its outputs are what `LambdaTaskRunner({ stack })`
 * reads, so a stack holds at most one.
 *
 * @example
 * new Squall(this, "Squall", { flows: "src/flows.ts" });
 */
/** A worker pool of the stack: its task queue (with its dead-letter queue) and its worker function. */
export interface WorkerPool {
  readonly tasks: WorkQueue;
  readonly worker: SquallFunction;
  readonly timeout: Duration;
}

export class Squall extends Construct {
  readonly results: ResultBucket;
  readonly tasks: WorkQueue;
  /** The worker pools besides the default one (`tasks` and `worker`), by name. */
  readonly pools: ReadonlyMap<string, WorkerPool>;
  readonly completions: WorkQueue;
  readonly worker: SquallFunction;
  readonly coordinator: SquallFunction;
  readonly flowRunner: SquallFunction;
  /** Starts and resumes durable flow runs: it feeds the flow-runner one message at a time. */
  readonly flowQueue: WorkQueue;
  /** What a caller needs (attach it to a user's or a role's identity): its ARN is the `CallerPolicyArn` output. */
  readonly callerPolicy: CallerPolicy;
  /** The schedules that start flows, when `schedules` names any. */
  readonly schedules: FlowSchedules | undefined;

  constructor(scope: Construct, id: string, props: SquallProps) {
    super(scope, id);
    const projectRoot = resolve(props.projectRoot ?? process.cwd());
    const flows = resolve(projectRoot, props.flows);
    if (!existsSync(flows)) {
      throw new Error(
        `Expected \`flows\` to name a module, got \`${props.flows}\`: ${flows} does not exist.`,
      );
    }
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const maxDeaths = props.maxDeaths ?? 3;
    const maxReceiveCount = props.maxReceiveCount ?? 10;
    if (!Number.isInteger(maxDeaths) || maxDeaths < 1 || maxDeaths > 100) {
      throw new Error(`Expected \`maxDeaths\` to be an integer from 1 to 100, got \`${maxDeaths}\``);
    }
    if (Number.isInteger(maxReceiveCount) && maxReceiveCount < maxDeaths + 2) {
      throw new Error(
        `Expected \`maxReceiveCount\` to be at least \`maxDeaths\` + 2 (${maxDeaths + 2}), got \`${maxReceiveCount}\`: a run that kills its worker is delivered once in its batch, then once per start alone, and once more to be ended Crashed by the worker; below that the dead-letter queue ends it first, and a throttled event source dead-letters healthy runs.`,
      );
    }
    const coordinatorConcurrency = props.coordinator?.maxConcurrency ?? 5;
    if (
      !Number.isInteger(coordinatorConcurrency) ||
      coordinatorConcurrency < 2 ||
      coordinatorConcurrency > 1000
    ) {
      throw new Error(
        `Expected \`coordinator.maxConcurrency\` to be an integer from 2 to 1000 (Lambda's limits for an SQS event source), got \`${coordinatorConcurrency}\``,
      );
    }
    const callerSilenceSeconds = (props.callerSilence ?? Duration.minutes(3)).toSeconds({ integral: false });
    if (!Number.isInteger(callerSilenceSeconds) || callerSilenceSeconds < 1) {
      throw new Error(
        `Expected \`callerSilence\` to be a whole number of seconds, at least 1, got ${callerSilenceSeconds} seconds`,
      );
    }
    const poolSettings = checkPools(props.pools);
    const workerTimeout = props.worker?.timeout ?? Duration.seconds(60);
    const coordinatorTimeout = props.coordinator?.timeout ?? Duration.seconds(60);
    const flowRunnerTimeout = props.flowRunner?.timeout ?? Duration.seconds(900);

    this.results = new ResultBucket(this, "Results", { retentionDays: props.retentionDays, removalPolicy });
    this.tasks = new WorkQueue(this, "Tasks", {
      consumerTimeout: workerTimeout,
      maxReceiveCount,
      deadLetterConsumerTimeout: coordinatorTimeout,
    });
    this.completions = new WorkQueue(this, "Completions", {
      consumerTimeout: coordinatorTimeout,
      maxReceiveCount: COMPLETION_MAX_RECEIVE_COUNT,
    });
    // A run's message is hidden while its invocation may run, and a little more: a run whose
    // invocation died comes back soon after (Lambda's timeout, not six of them). Runs given up
    // on go to the coordinator, which ends them.
    this.flowQueue = new WorkQueue(this, "FlowQueue", {
      consumerTimeout: flowRunnerTimeout,
      visibilityTimeout: Duration.seconds(flowQueueVisibilitySeconds(flowRunnerTimeout.toSeconds())),
      maxReceiveCount: FLOW_QUEUE_MAX_RECEIVE_COUNT,
      deadLetterConsumerTimeout: coordinatorTimeout,
    });
    const flowRunnerConcurrency = props.flowRunner?.maxConcurrency;
    if (
      flowRunnerConcurrency !== undefined &&
      (!Number.isInteger(flowRunnerConcurrency) || flowRunnerConcurrency < 2 || flowRunnerConcurrency > 1000)
    ) {
      throw new Error(
        `Expected \`flowRunner.maxConcurrency\` to be an integer from 2 to 1000 (Lambda's limits for an SQS event source), got \`${flowRunnerConcurrency}\``,
      );
    }
    const flowQueueUrl = { [ADDRESS_VARIABLES.flowQueueUrl]: this.flowQueue.queue.queueUrl };

    const address = {
      [ADDRESS_VARIABLES.taskQueueUrl]: this.tasks.queue.queueUrl,
      [ADDRESS_VARIABLES.completionQueueUrl]: this.completions.queue.queueUrl,
      [ADDRESS_VARIABLES.bucket]: this.results.bucket.bucketName,
      [ADDRESS_VARIABLES.region]: Stack.of(this).region,
      [ADDRESS_VARIABLES.callerSilenceSeconds]: String(callerSilenceSeconds),
    };
    const carriesFlows = {
      ...userEnvironment(props.environment),
      ...address,
      [BUNDLED_MODULES_VARIABLE]: JSON.stringify(bundledModules(projectRoot, props.flows)),
    };
    const common = {
      flows,
      projectRoot,
      architecture: props.architecture ?? Architecture.ARM_64,
      logRetention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy,
    };

    // Every pool's workers share the tags' leases: one lives as long as the longest invocation.
    const longestWorkerTimeout = poolSettings.reduce(
      (longest, [, settings]) =>
        settings.timeout && settings.timeout.toSeconds() > longest.toSeconds() ? settings.timeout : longest,
      workerTimeout,
    );
    this.worker = new SquallFunction(this, "Worker", {
      ...common,
      kind: "worker",
      memorySize: props.worker?.memorySize ?? 1024,
      timeout: workerTimeout,
      environment: {
        ...carriesFlows,
        [MAX_DEATHS_VARIABLE]: String(maxDeaths),
        ...tagLimitsEnvironment(props.tagLimits, longestWorkerTimeout),
      },
      settings: props.worker,
      bundling: props.bundling,
    });
    this.tasks.feeds(this.worker.function, {
      batchSize: props.worker?.batchSize ?? 10,
      maxBatchingWindow: props.worker?.maxBatchingWindow ?? Duration.seconds(0),
      maxConcurrency: props.worker?.maxConcurrency ?? 100,
    });
    // The event source lets it receive and delete; it also re-queues retries and split messages.
    this.tasks.queue.grantSendMessages(this.worker);
    this.completions.queue.grantSendMessages(this.worker);
    this.results.grantRecords(this.worker, { largeValues: true });
    this.results.grantRunKeys(this.worker, "read");
    const limitsTags = Object.keys(props.tagLimits ?? {}).length > 0;
    if (limitsTags) this.results.grantTagLeases(this.worker);

    // Each pool is the default pool again with its own settings: its worker takes from its own
    // queue and sends retries and split messages back to it.
    const pools = new Map<string, WorkerPool>();
    for (const [name, settings] of poolSettings) {
      const id = poolOutputKey(name);
      const timeout = settings.timeout ?? Duration.seconds(60);
      const tasks = new WorkQueue(this, `${id}Tasks`, {
        consumerTimeout: timeout,
        maxReceiveCount,
        deadLetterConsumerTimeout: coordinatorTimeout,
      });
      const worker = new SquallFunction(this, `${id}Worker`, {
        ...common,
        kind: "worker",
        architecture: settings.architecture ?? common.architecture,
        memorySize: settings.memorySize ?? 1024,
        timeout,
        environment: {
          ...carriesFlows,
          [ADDRESS_VARIABLES.taskQueueUrl]: tasks.queue.queueUrl,
          [MAX_DEATHS_VARIABLE]: String(maxDeaths),
          ...tagLimitsEnvironment(props.tagLimits, longestWorkerTimeout),
        },
        settings,
        bundling: props.bundling,
      });
      tasks.feeds(worker.function, {
        batchSize: settings.batchSize ?? 10,
        maxBatchingWindow: settings.maxBatchingWindow ?? Duration.seconds(0),
        maxConcurrency: settings.maxConcurrency ?? 100,
      });
      tasks.queue.grantSendMessages(worker);
      this.completions.queue.grantSendMessages(worker);
      this.results.grantRecords(worker, { largeValues: true });
      this.results.grantRunKeys(worker, "read");
      if (limitsTags) this.results.grantTagLeases(worker);
      pools.set(name, { tasks, worker, timeout });
    }
    this.pools = pools;

    this.coordinator = new SquallFunction(this, "Coordinator", {
      ...common,
      kind: "coordinator",
      memorySize: props.coordinator?.memorySize ?? 1024,
      timeout: coordinatorTimeout,
      settings: props.coordinator,
      environment: {
        ...address,
        [DEAD_LETTER_ARN_VARIABLE]: [this.tasks, ...[...pools.values()].map((pool) => pool.tasks)]
          .map((tasks) => tasks.deadLetterQueue.queueArn)
          .join(","),
        [OVERDUE_VARIABLE]: String((props.coordinator?.overdue ?? Duration.hours(1)).toSeconds()),
        ...flowQueueUrl,
        [FLOW_DEAD_LETTER_ARN_VARIABLE]: this.flowQueue.deadLetterQueue.queueArn,
      },
    });
    this.completions.feeds(this.coordinator.function, {
      batchSize: props.coordinator?.batchSize ?? 10,
      maxBatchingWindow: props.coordinator?.maxBatchingWindow ?? Duration.seconds(1),
      maxConcurrency: coordinatorConcurrency,
    });
    // Dead-lettered task messages become Crashed outcomes, so their flows fail instead of waiting.
    for (const tasks of [this.tasks, ...[...pools.values()].map((pool) => pool.tasks)]) {
      tasks.feedsDeadLetters(this.coordinator.function, {
        batchSize: 10,
        maxBatchingWindow: Duration.seconds(0),
        maxConcurrency: 2,
      });
    }
    this.results.grantRecords(this.coordinator);
    this.results.grantRunKeys(this.coordinator, "read");
    this.results.grantOpenMarkers(this.coordinator, "keep");
    // Flow runs given up on are the coordinator's to end, and it may hand a run back to the flow-runner.
    this.flowQueue.feedsDeadLetters(this.coordinator.function, {
      batchSize: 10,
      maxBatchingWindow: Duration.seconds(0),
      maxConcurrency: 2,
    });
    this.flowQueue.queue.grantSendMessages(this.coordinator);
    // The sweep ends runs whose outcomes are overdue (their messages lost to the completion
    // dead-letter queue, or the fleet stuck). A sweep not delivered is superseded by the next.
    new Rule(this, "Sweep", {
      schedule: Schedule.rate(Duration.minutes(5)),
      targets: [
        new LambdaFunction(this.coordinator.function, {
          event: RuleTargetInput.fromObject({ squall: "sweep" }),
          maxEventAge: Duration.minutes(5),
        }),
      ],
    });

    this.flowRunner = new SquallFunction(this, "FlowRunner", {
      ...common,
      kind: "flow-runner",
      memorySize: props.flowRunner?.memorySize ?? 1024,
      timeout: flowRunnerTimeout,
      settings: props.flowRunner,
      bundling: props.bundling,
      // Its flows' LambdaTaskRunner({ stack }) knows this stack for its own, and reads no outputs;
      // it refuses tasks whose timeout the worker's would cut short.
      environment: {
        ...carriesFlows,
        [STACK_NAME_VARIABLE]: Aws.STACK_NAME,
        [ADDRESS_VARIABLES.workerTimeoutSeconds]: String(workerTimeout.toSeconds()),
        ...flowQueueUrl,
        ...(pools.size > 0 && {
          [ADDRESS_VARIABLES.pools]: Stack.of(this).toJsonString(
            Object.fromEntries(
              [...pools].map(([name, pool]) => [
                name,
                { taskQueueUrl: pool.tasks.queue.queueUrl, workerTimeoutSeconds: pool.timeout.toSeconds() },
              ]),
            ),
          ),
        }),
      },
    });
    // Its flows' LambdaTaskRunner sends task messages and the flow-returned notice, and follows
    // the run's record.
    this.tasks.queue.grantSendMessages(this.flowRunner);
    for (const pool of pools.values()) pool.tasks.queue.grantSendMessages(this.flowRunner);
    this.completions.queue.grantSendMessages(this.flowRunner);
    this.results.grantRecords(this.flowRunner, { largeValues: true });
    this.results.grantRunKeys(this.flowRunner, "write");
    this.results.grantOpenMarkers(this.flowRunner, "open");
    // Lambda retries a failed Event invocation twice by default: each retry would start the flow
    // again, a second run. A run that fails says so in its record instead.
    this.flowRunner.function.configureAsyncInvoke({ retryAttempts: 0 });
    // One run per invocation; the flow-runner hands a run on to its next invocation through the
    // queue, and reads the run's key to resume it.
    this.flowQueue.feeds(this.flowRunner.function, {
      batchSize: 1,
      maxBatchingWindow: Duration.seconds(0),
      maxConcurrency: flowRunnerConcurrency,
    });
    this.flowQueue.queue.grantSendMessages(this.flowRunner);
    this.results.grantRunKeys(this.flowRunner, "read");

    // Run ids are minted at run time, so object access is granted on a prefix of the stack's own
    // bucket, with exact actions: the one wildcard the rule pack sees.
    const bucketId = Stack.of(this).getLogicalId(this.results.bucket.node.defaultChild as CfnBucket);
    const underPrefix = (prefix: string, actions: string) => ({
      id: "AwsSolutions-IAM5",
      reason: `squall keeps what it writes under ${prefix}<flowRunId> with ids minted at run time: access is scoped to that prefix of the stack's own bucket, with exact actions (${actions}).`,
      appliesTo: [`Resource::<${bucketId}.Arn>/${prefix}*`],
    });
    const poolWorkers = [...pools.values()].map((pool) => pool.worker);
    for (const fn of [this.worker, ...poolWorkers, this.coordinator, this.flowRunner]) {
      const keyAccess = fn === this.flowRunner ? "s3:GetObject, s3:PutObject" : "s3:GetObject";
      const runAccess = `s3:GetObject, s3:PutObject${fn === this.coordinator ? "" : ", s3:AbortMultipartUpload"}`;
      suppressNag(fn, [underPrefix(RUNS_PREFIX, runAccess), underPrefix(KEYS_PREFIX, keyAccess)], true);
    }
    if (limitsTags) {
      for (const worker of [this.worker, ...poolWorkers]) {
        suppressNag(worker, [underPrefix(LEASES_PREFIX, "s3:PutObject, s3:DeleteObject")], true);
      }
    }
    suppressNag(
      this.coordinator,
      [underPrefix(OPEN_PREFIX, "s3:GetObject, s3:PutObject, s3:DeleteObject")],
      true,
    );
    suppressNag(this.flowRunner, [underPrefix(OPEN_PREFIX, "s3:PutObject")], true);

    this.schedules =
      props.schedules && props.schedules.length > 0
        ? new FlowSchedules(this, "FlowSchedules", {
            flowRunner: this.flowRunner.function,
            schedules: props.schedules,
            removalPolicy,
          })
        : undefined;

    this.callerPolicy = new CallerPolicy(this, "SquallCaller", {
      tasks: [this.tasks.queue, ...[...pools.values()].map((pool) => pool.tasks.queue)],
      completions: this.completions.queue,
      bucket: this.results.bucket,
      flowRunner: this.flowRunner.function,
      flowQueue: this.flowQueue.queue,
    });
    suppressNag(
      this.callerPolicy,
      [
        underPrefix(RUNS_PREFIX, "s3:GetObject, s3:PutObject, s3:AbortMultipartUpload"),
        underPrefix(KEYS_PREFIX, "s3:PutObject"),
        underPrefix(OPEN_PREFIX, "s3:PutObject"),
        {
          id: "AwsSolutions-IAM5",
          reason:
            "DescribeStacks is granted on this stack's own ARN, whose last part is the stack's id, minted at deploy time.",
          appliesTo: [{ regex: "/^Resource::arn:.+:cloudformation:.+:stack\\/[^/]+\\/\\*$/g" }],
        },
      ],
      true,
    );

    this.output(STACK_OUTPUTS.taskQueueUrl, this.tasks.queue.queueUrl, "Where callers send task runs");
    this.output(STACK_OUTPUTS.completionQueueUrl, this.completions.queue.queueUrl, "Where outcomes go");
    this.output(STACK_OUTPUTS.bucket, this.results.bucket.bucketName, "Flow runs' records, under runs/");
    this.output(
      STACK_OUTPUTS.workerTimeoutSeconds,
      String(workerTimeout.toSeconds()),
      "The worker's timeout: callers refuse tasks with a longer one",
    );
    this.output(
      STACK_OUTPUTS.callerSilenceSeconds,
      String(callerSilenceSeconds),
      "How long a caller may go silent before the sweep ends its flow run Crashed",
    );
    for (const [name, pool] of pools) {
      this.output(
        poolOutputKey(name),
        Stack.of(this).toJsonString({
          name,
          taskQueueUrl: pool.tasks.queue.queueUrl,
          workerTimeoutSeconds: pool.timeout.toSeconds(),
        }),
        `Worker pool '${name}': where callers send its task runs, and its worker's timeout`,
      );
    }
    this.output(
      STACK_OUTPUTS.flowQueueUrl,
      this.flowQueue.queue.queueUrl,
      "Where durable flow runs are started and resumed",
    );
    this.output("FlowRunnerFunctionName", this.flowRunner.function.functionName, "Runs a flow by name");
    this.output("DeadLetterQueueUrl", this.tasks.deadLetterQueue.queueUrl, "Task messages given up on");
    this.output("Region", Stack.of(this).region, "The stack's region");
    this.output(
      "CallerPolicyArn",
      this.callerPolicy.policy.managedPolicyArn,
      "Attach to whoever runs or starts flows",
    );
    if (this.schedules) {
      this.output(
        SCHEDULES_OUTPUT,
        JSON.stringify(this.schedules.checked.map(listingOf)),
        "The flows started on schedules: name, flow, expression, timezone, enabled",
      );
    }
  }

  /** An output whose key is exactly `key`, as LambdaTaskRunner({ stack }) looks it up. */
  private output(key: string, value: string, description: string): void {
    new CfnOutput(this, key, { value, description }).overrideLogicalId(key);
  }
}

/** The pools, checked: names that can name resources and outputs, and not too many. */
function checkPools(pools: SquallProps["pools"]): [string, PoolSettings][] {
  if (pools === undefined) return [];
  const entries = Object.entries(pools);
  if (entries.length > MAX_POOLS) {
    throw new Error(
      `Expected at most ${MAX_POOLS} \`pools\`, got ${entries.length}: each adds to the flow-runner's environment, which Lambda caps at 4 KB.`,
    );
  }
  const keys = new Map<string, string>();
  for (const [name] of entries) {
    if (!POOL_NAME.test(name) || name === DEFAULT_POOL) {
      throw new Error(
        `Expected each of \`pools\` to be named with lowercase letters, digits and \`-\`, starting with a letter, up to 32, and not \`${DEFAULT_POOL}\` (the default pool's name), got \`${name}\``,
      );
    }
    const key = poolOutputKey(name);
    const other = keys.get(key);
    if (other !== undefined) {
      throw new Error(
        `Expected \`pools\` names that differ by more than their \`-\`, got \`${other}\` and \`${name}\`: both would name the output ${key}.`,
      );
    }
    keys.set(key, name);
  }
  return entries;
}

/** Variables Lambda sets and refuses in a function's configuration. */
const LAMBDA_RESERVED =
  /^(_HANDLER|_X_AMZN_TRACE_ID|AWS_REGION|AWS_DEFAULT_REGION|AWS_EXECUTION_ENV|AWS_LAMBDA_.*|AWS_ACCESS_KEY|AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN|LAMBDA_TASK_ROOT|LAMBDA_RUNTIME_DIR|TZ)$/;

/** The user's variables for the functions, refusing the names squall and Lambda keep. */
function userEnvironment(environment: Readonly<Record<string, string>> = {}): Record<string, string> {
  const reserved = Object.keys(environment).filter(
    (name) => name.startsWith("SQUALL_") || LAMBDA_RESERVED.test(name),
  );
  if (reserved.length > 0) {
    throw new Error(
      `Expected \`environment\` to leave out the variables squall and Lambda set, got ${reserved.map((name) => `\`${name}\``).join(", ")}: rename them (SQUALL_* are squall's; Lambda reserves AWS_REGION, AWS_LAMBDA_*, the credentials' variables, _HANDLER, LAMBDA_TASK_ROOT, TZ and a few more).`,
    );
  }
  return { ...environment };
}
