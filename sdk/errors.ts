import { inspect } from "node:util";

/**
 * Every error squall raises extends {@link SquallError}; `name` is the class
 * name so that an error that crossed a process boundary reads the same.
 */
export class SquallError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A value passed to a squall function was not what it expects. */
export class InvalidArgumentError extends SquallError {}

/** Something that only works inside a flow or task run was called outside one. */
export class MissingContextError extends SquallError {}

/** Two different tasks were defined with one name in the same process. */
export class DuplicateTaskNameError extends SquallError {}

/** A flow was asked for by a name that two different flows of this process have. */
export class DuplicateFlowNameError extends SquallError {}

/** A task run did not finish within its `timeoutSeconds`. */
export class TaskTimeoutError extends SquallError {}

/** A flow run did not finish within its `timeoutSeconds`. */
export class FlowTimeoutError extends SquallError {}

/** `future.result({ timeoutMs })` gave up waiting; the run itself goes on. */
export class ResultTimeoutError extends SquallError {}

/** The run was cancelled through its flow run's `AbortSignal`. */
export class CancelledError extends SquallError {}

/** The run's process or worker died under it; the run did not fail on its own. */
export class CrashedError extends SquallError {}

/** No persisted result is stored where one was asked for. */
export class ResultNotFoundError extends SquallError {}

/** The code a worker has for a task differs from the caller's. */
export class CodeMismatchError extends SquallError {}

/**
 * A durable flow run, run again to resume it, did not do what its record says it did: it
 * submitted another task at a call than the first run did (its code depends on something other
 * than its parameters and its runs' results), or its flows module changed since it started.
 */
export class NonDeterministicFlowError extends SquallError {}

/**
 * A worker refused what a task message asked of it: a module outside its deployment, or a stored
 * value outside the flow run's own prefix of its own bucket. Nothing was imported or read.
 */
export class MessageRefusedError extends SquallError {}

/**
 * The bucket refused a request (403): the credentials lack a permission. It does not mend by
 * trying again, so whoever waits on the bucket stops and says which permission is missing.
 */
export class BucketAccessDeniedError extends SquallError {}

/**
 * A run's cache key could not be computed (an input that cannot be hashed). The run logs it as a
 * warning and runs uncached.
 */
export class CacheKeyError extends SquallError {}

/** An upstream run a task depended on did not complete, so the task never ran. */
export class UpstreamFailedError extends SquallError {
  readonly upstream: readonly RunRef[];
  constructor(upstream: readonly RunRef[]) {
    super(`Upstream task run${upstream.length > 1 ? "s" : ""} ${listRuns(upstream)} did not complete.`);
    this.upstream = upstream;
  }
}

/** Runs that a flow submitted failed and the flow never handled their failure. */
export class TaskRunsFailedError extends SquallError {
  readonly failures: readonly RunFailure[];
  constructor(flowRunName: string, failures: readonly RunFailure[]) {
    const count = failures.length;
    super(
      `Flow run '${flowRunName}' failed because ${count} run${count > 1 ? "s" : ""} failed: ${listRuns(failures, true)}`,
      { cause: failures[0]?.error },
    );
    this.failures = failures;
  }
}

export interface RunRef {
  readonly id: string;
  readonly name: string;
}

export interface RunFailure extends RunRef {
  readonly error: Error;
}

const LISTED = 5;

function listRuns(runs: readonly (RunRef & { error?: Error })[], withErrors = false): string {
  const shown = runs.slice(0, LISTED).map((run) => {
    const why = withErrors && run.error ? ` (${run.error.name}: ${run.error.message})` : "";
    return `'${run.name}'${why}`;
  });
  if (runs.length > LISTED) shown.push(`and ${runs.length - LISTED} more`);
  return shown.join(", ");
}

/** Turns anything thrown into an Error, keeping Errors as they are. */
export function toError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  const error = new SquallError(`A non-Error value was thrown: ${describeThrown(thrown)}`, { cause: thrown });
  // A value that is not an Error carries no stack; the frames here would be squall's, saying
  // nothing of where it was thrown.
  error.stack = `${error.name}: ${error.message}`;
  return error;
}

/** How much of a thrown non-Error value a message shows. */
const THROWN_CHARS = 300;

/**
 * A thrown value that is not an Error, on one line: a string as it is, anything else as
 * `util.inspect` shows it (`{ code: 42, reason: 'quota' }`), cut to 300 characters.
 */
function describeThrown(thrown: unknown): string {
  const text =
    typeof thrown === "string"
      ? thrown
      : inspect(thrown, {
          depth: 3,
          breakLength: Number.POSITIVE_INFINITY,
          maxArrayLength: 20,
          maxStringLength: THROWN_CHARS,
        });
  return text.length > THROWN_CHARS ? `${text.slice(0, THROWN_CHARS - 3)}...` : text;
}
