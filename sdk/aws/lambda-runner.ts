import { InvalidArgumentError } from "../errors.js";
import { emitProgress, progressObserved } from "../observe.js";
import { assertKnownKeys } from "../options.js";
import type { TaskRunner, TaskRunnerSession } from "../runners/task-runner.js";
import type { FlowRunInfo } from "../runs.js";
import { shareStore } from "../storage/open-store.js";
import {
  ADDRESS_VARIABLES,
  addressFromEnv,
  addressFromStack,
  checkAddress,
  clientsFor,
  type SquallAddress,
} from "./address.js";
import { announcedAddress, announcedEnvironment } from "./local/announcement.js";
import type { LocalEnvironment, LocalEnvironmentOptions } from "./local/environment.js";
import { ownFunctionAddress } from "./own-address.js";
import { SqsQueue } from "./queue.js";
import { DEFAULT_SILENT_AFTER_SECONDS } from "./record/heartbeat.js";
import type { FollowerOptions } from "./runner/follower.js";
import { type Connection, LambdaSession } from "./runner/session.js";
import { S3ResultStore } from "./s3-store.js";

export interface LambdaTaskRunnerOptions extends Partial<SquallAddress> {
  /**
   * A deployed stack to run on: its outputs give the queues and bucket (with `region` and, for
   * LocalStack, `endpoint`). Without `stack`, explicit queue URLs and bucket, or `SQUALL_*`
   * variables, the runner uses the local environment `squall env start` keeps for the project
   * (announced in `.squall/env.json`, or `$SQUALL_HOME/env.json`) when one runs and neither
   * `local` nor `keepLocal` is given; otherwise a local environment is started for the flow run. Inside the stack's own
   * flow-runner function its variables give the address (its role may not read the stack), and
   * a `stack` naming another stack is refused.
   */
  readonly stack?: string;
  /** How to set up the local environment, when one is started. */
  readonly local?: LocalEnvironmentOptions;
  /**
   * Keep the local environment running after the flow run, and print its endpoint and bucket
   * so that it can be looked into (`aws --endpoint-url <endpoint> s3 ls s3://<bucket>/runs/`).
   * @default false
   */
  readonly keepLocal?: boolean;
  /** Task runs packed into one message at most; 1 gives each run a message of its own. @default 50 */
  readonly tasksPerMessage?: number;
  /** Arguments above this many bytes travel through the bucket, by key. @default 32 KiB */
  readonly inlineArgBytes?: number;
  /**
   * How long this caller may go silent before the coordinator's sweep ends its flow run as
   * Crashed ("the caller stopped at …"): the caller rewrites a small heartbeat object six times
   * per this bound. Time to that end after a caller dies is at most this plus the sweep's period
   * (5 minutes). @default the deployment's (`callerSilence` of the Squall construct, or
   * `SQUALL_CALLER_SILENCE_SECONDS`), else 180
   */
  readonly callerSilenceSeconds?: number;
  /** How often the run's record is read while runs are out. */
  readonly follow?: FollowerOptions;
}

/** An address's fields, spread into the options (`{ ...local.address }`), and the runner's own. */
const RUNNER_KEYS: ReadonlySet<string> = new Set([
  ...Object.keys(ADDRESS_VARIABLES),
  "stack",
  "local",
  "keepLocal",
  "tasksPerMessage",
  "inlineArgBytes",
  "callerSilenceSeconds",
  "follow",
]);

interface Connected extends Connection {
  readonly address: SquallAddress;
  readonly local: LocalEnvironment | undefined;
  sessions: number;
  close(): Promise<void>;
}

/**
 * Runs a flow's submitted tasks on AWS Lambda: each run goes through SQS to a worker function,
 * which runs it by name, retries it itself and reports its outcome; a coordinator function
 * records outcomes in S3, where this runner reads them. With no address it starts a local
 * environment for the flow run (an embedded emulator with the same functions in threads), as
 * Dask's runner starts a LocalCluster.
 *
 * @example
 * const greetings = flow({ taskRunner: new LambdaTaskRunner() }, function greetings(names: string[]) {
 *   for (const name of names) sayHello.submit(name);
 * });
 * // against a deployed stack:
 * new LambdaTaskRunner({ stack: "Squall", region: "eu-west-1" });
 */
export class LambdaTaskRunner implements TaskRunner {
  readonly name = "lambda";
  readonly #options: LambdaTaskRunnerOptions;
  readonly #explicit: SquallAddress | undefined;
  #connecting: Promise<Connected> | undefined;

  constructor(options: LambdaTaskRunnerOptions = {}) {
    if (typeof options !== "object" || options === null) {
      throw new InvalidArgumentError(
        `Expected LambdaTaskRunner options to be an object, got \`${String(options)}\``,
      );
    }
    assertKnownKeys(options, RUNNER_KEYS, "LambdaTaskRunner");
    positiveInteger("tasksPerMessage", options.tasksPerMessage ?? 50);
    positiveInteger("inlineArgBytes", options.inlineArgBytes ?? 32 * 1024);
    positiveInteger("callerSilenceSeconds", options.callerSilenceSeconds ?? DEFAULT_SILENT_AFTER_SECONDS);
    if (options.stack !== undefined && (typeof options.stack !== "string" || options.stack === "")) {
      throw new InvalidArgumentError(
        `Expected \`stack\` to be a stack name, got \`${String(options.stack)}\``,
      );
    }
    const { taskQueueUrl, completionQueueUrl, bucket } = options;
    if (taskQueueUrl !== undefined || completionQueueUrl !== undefined || bucket !== undefined) {
      this.#explicit = checkAddress(options as SquallAddress, "the LambdaTaskRunner options");
    }
    this.#options = options;
  }

  /** The local environment, while one runs for this runner. */
  get localEnvironment(): LocalEnvironment | undefined {
    return this.#connection?.local;
  }

  #connection: Connected | undefined;

  async start(flowRun: FlowRunInfo): Promise<TaskRunnerSession> {
    this.#connecting ??= this.#connect();
    const connected = await this.#connecting.catch((error) => {
      this.#connecting = undefined;
      throw error;
    });
    this.#connection = connected;
    connected.sessions += 1;
    const release = async () => {
      connected.sessions -= 1;
      if (connected.sessions > 0 || this.#connecting === undefined) return;
      if (connected.local && this.#options.keepLocal) return;
      this.#connecting = undefined;
      this.#connection = undefined;
      await connected.close();
    };
    return new LambdaSession(
      flowRun,
      connected,
      {
        inlineArgBytes: this.#options.inlineArgBytes ?? 32 * 1024,
        tasksPerMessage: this.#options.tasksPerMessage ?? 50,
        callerSilenceSeconds: this.#options.callerSilenceSeconds ?? connected.address.callerSilenceSeconds,
        follow: this.#options.follow,
      },
      release,
    );
  }

  async #connect(): Promise<Connected> {
    // Inside one of the stack's functions, its own variables, whatever `stack` says of them.
    let address = this.#explicit ?? ownFunctionAddress(this.#options.stack);
    let local: LocalEnvironment | undefined;
    /** Where the runs go, for whoever follows the run's progress (the CLI's display). */
    let where = address ? "the address given" : "";
    if (!address && this.#options.stack) {
      address = await addressFromStack(this.#options.stack, this.#options);
      where = `stack ${this.#options.stack}`;
    }
    if (!address) {
      address = addressFromEnv();
      where = "the SQUALL_* variables' address";
    }
    // A kept environment (`squall env start`) announced in the project, unless this runner is
    // given the setup of an environment of its own.
    if (!address && this.#options.local === undefined && !this.#options.keepLocal) {
      const announced = announcedEnvironment((stale, path) => {
        process.stderr.write(
          `squall: ${path} names a local environment (pid ${stale.pid}) that no longer runs; starting one for this flow run (squall env start keeps one).\n`,
        );
      });
      if (announced) {
        address = announcedAddress(announced);
        where = "the local environment squall env start keeps";
      }
    }
    if (!address) {
      if (progressObserved()) {
        emitProgress({ kind: "environment", phase: "starting", description: "the local environment" });
      }
      // Loaded only here: a deployed caller never starts the emulator.
      const { startLocalEnvironment } = await import("./local/environment.js");
      local = await startLocalEnvironment(this.#options.local);
      address = local.address;
      where = "a local environment of this flow run's";
      if (this.#options.keepLocal) {
        process.stderr.write(
          `squall: local environment at ${address.endpoint}, bucket ${address.bucket}\n` +
            `  task queue ${address.taskQueueUrl}\n` +
            `  completion queue ${address.completionQueueUrl}\n` +
            `  dead-letter queue ${local.deadLetterQueueUrl}\n` +
            `  look inside: aws --endpoint-url ${address.endpoint} s3 ls s3://${address.bucket}/runs/ --recursive\n` +
            `               aws --endpoint-url ${address.endpoint} sqs get-queue-attributes --queue-url ${address.taskQueueUrl} --attribute-names All\n`,
        );
      }
    }
    if (progressObserved()) {
      const at = address.endpoint
        ? ` at ${address.endpoint}`
        : ` in ${address.region ?? "the default region"}`;
      emitProgress({
        kind: "environment",
        phase: "ready",
        description: `${where}${at}, bucket ${address.bucket}`,
      });
    }
    const { s3, sqs } = clientsFor(address);
    const store = new S3ResultStore({
      bucket: address.bucket,
      client: s3,
      region: address.region,
      endpoint: address.endpoint,
    });
    shareStore(store); // results stored in the bucket load through this client
    return {
      address,
      local,
      sessions: 0,
      store,
      workerTimeoutSeconds: address.workerTimeoutSeconds,
      tasks: new SqsQueue({ url: address.taskQueueUrl, client: sqs }),
      pools: new Map(
        Object.entries(address.pools ?? {}).map(([name, pool]) => [
          name,
          {
            tasks: new SqsQueue({ url: pool.taskQueueUrl, client: sqs }),
            workerTimeoutSeconds: pool.workerTimeoutSeconds,
          },
        ]),
      ),
      completions: new SqsQueue({ url: address.completionQueueUrl, client: sqs }),
      async close() {
        s3.destroy();
        sqs.destroy();
        await local?.stop();
      },
    };
  }
}

function positiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new InvalidArgumentError(`Expected \`${name}\` to be an integer >= 1, got \`${String(value)}\``);
  }
}
