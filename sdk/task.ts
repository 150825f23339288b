import { AllowFailure, Unmapped } from "./annotations.js";
import { sourceHash } from "./cache.js";
import { currentScope } from "./context.js";
import type { TaskDefinition } from "./engine/definitions.js";
import type { FlowRun } from "./engine/flow-run.js";
import { TaskRun } from "./engine/task-run.js";
import { InvalidArgumentError, MissingContextError } from "./errors.js";
import { type TaskFuture, TaskFutureList } from "./futures.js";
import { installPrintCapture } from "./logging/prints.js";
import { checkMapStream, type MapStreamOptions, TaskRunStream } from "./map-stream.js";
import { checkName, definitionArgs, type TaskOptions, taskSettings } from "./options.js";
import { callerModule, moduleHash, registerTask } from "./registry.js";
import { RunPromise } from "./run-promise.js";

/**
 * An argument a task accepts in `.submit()`: the value, or a future (or `allowFailure`) giving it,
 * also nested inside arrays and plain objects.
 */
export type Futurable<T> =
  | T
  | TaskFuture<T>
  | AllowFailure<T>
  | (T extends (...args: never[]) => unknown
      ? never
      : T extends readonly (infer E)[]
        ? readonly Futurable<E>[]
        : T extends object
          ? { [K in keyof T]: Futurable<T[K]> }
          : never);
export type FuturableArgs<Args extends unknown[]> = { [K in keyof Args]: Futurable<Args[K]> };
/** An argument of `.map()`: an iterable of values (one per run), or one value for every run. */
export type MapArg<T> = Iterable<Futurable<T>> | Unmapped<T> | T;
export type MapArgs<Args extends unknown[]> = { [K in keyof Args]: MapArg<Args[K]> };
/**
 * The arguments of a task after its first: what `mapStream()`'s `args` gives every run.
 *
 * @example
 * type Rest = RestArgs<[key: string, width: number]>; // [width: number]
 */
export type RestArgs<Args extends unknown[]> = Args extends [unknown?, ...infer Rest] ? Rest : unknown[];

/** Options for one use of a task through `withOptions()`. */
export interface TaskCallOptions<R> extends Omit<TaskOptions<R>, "name"> {
  /** Runs wait for these futures to finish before they start, without taking their results. */
  readonly waitFor?: Iterable<TaskFuture<unknown> | AllowFailure<unknown>>;
}

/** A task: call it to run it now, `.submit()` it to the flow's task runner, or `.map()` it over inputs. */
export interface Task<Args extends unknown[], R> {
  /** Inside a flow, runs the task here (as a task run) and gives its result; elsewhere, calls the function. */
  (...args: Args): Promise<Awaited<R>>;
  readonly name: string;
  /** The plain function. */
  readonly fn: (...args: Args) => R;
  readonly options: TaskOptions<Awaited<R>>;
  /** Hands a run to the flow's task runner and returns its future at once. */
  submit(...args: FuturableArgs<Args>): TaskFuture<Awaited<R>>;
  /** Submits one run per item of the iterable arguments; other arguments go to every run. */
  map(...args: MapArgs<Args>): TaskFutureList<Awaited<R>>;
  /**
   * One run per item of an iterable or async iterable (the run's first argument), pulled only as
   * fast as runs are handed to the reader, at most `maxInFlight` at once: for inputs too many to
   * hold, such as a bucket listing. Read the stream for results in input order.
   */
  mapStream(
    items: Iterable<Futurable<Args[0]>> | AsyncIterable<Futurable<Args[0]>>,
    options?: MapStreamOptions<FuturableArgs<RestArgs<Args>>>,
  ): TaskRunStream<Awaited<R>>;
  /** The same task with some options changed, for one use. */
  withOptions(options: TaskCallOptions<Awaited<R>>): Task<Args, R>;
}

/**
 * Makes a task of a function. Its name is the function's, unless `options.name` says otherwise;
 * two different tasks may not share a name.
 *
 * @example
 * const sayHello = task(function sayHello(name: string) {
 *   console.log(`hello ${name}`);
 * });
 * const fetchPage = task({ retries: 3, retryDelaySeconds: 2 }, async (url: string) => (await fetch(url)).text());
 */
export function task<Args extends unknown[], R>(fn: (...args: Args) => R): Task<Args, R>;
export function task<Args extends unknown[], R>(
  options: TaskOptions<Awaited<R>>,
  fn: (...args: Args) => R,
): Task<Args, R>;
export function task<Args extends unknown[], R>(
  first: TaskOptions<Awaited<R>> | ((...args: Args) => R),
  second?: (...args: Args) => R,
): Task<Args, R> {
  const [options, fn] = definitionArgs<TaskOptions<Awaited<R>>, (...args: Args) => R>("task", first, second);
  const name = checkName(options?.name ?? fn.name, "task");
  const source = sourceHash(fn);
  const module = callerModule();
  const def: TaskDefinition = {
    name,
    fn: fn as TaskDefinition["fn"],
    settings: taskSettings(options as TaskOptions<unknown>),
    sourceHash: source,
    module,
    codeHash: moduleHash(module) ?? source,
    waitFor: undefined,
  };
  registerTask(def);
  if (def.settings.logPrints) installPrintCapture();
  return makeTask<Args, R>(def, options);
}

function makeTask<Args extends unknown[], R>(
  def: TaskDefinition,
  options: TaskOptions<Awaited<R>>,
): Task<Args, R> {
  const call = (...args: Args) => callTask(def, args) as Promise<Awaited<R>>;
  Object.defineProperty(call, "name", { value: def.name });
  return Object.assign(call, {
    fn: def.fn as unknown as (...args: Args) => R,
    options,
    submit: (...args: FuturableArgs<Args>) => submitTask(def, args) as TaskFuture<Awaited<R>>,
    map: (...args: MapArgs<Args>) => mapTask(def, args) as TaskFutureList<Awaited<R>>,
    mapStream: (items: unknown, streamOptions?: MapStreamOptions) =>
      mapStreamTask(def, items, streamOptions) as TaskRunStream<Awaited<R>>,
    withOptions: (more: TaskCallOptions<Awaited<R>>) => {
      if (typeof more !== "object" || more === null) {
        throw new InvalidArgumentError(
          `Expected withOptions() to get an options object, got \`${String(more)}\``,
        );
      }
      if ("name" in more) {
        throw new InvalidArgumentError(
          "withOptions() cannot rename a task: a task's name is how it is found. Define another task instead.",
        );
      }
      const { waitFor, ...rest } = more;
      const merged = { ...options, ...rest } as TaskOptions<Awaited<R>>;
      const variant: TaskDefinition = {
        ...def,
        settings: taskSettings(merged as TaskOptions<unknown>),
        waitFor: waitFor === undefined ? def.waitFor : checkWaitFor(waitFor),
      };
      if (variant.settings.logPrints) installPrintCapture();
      return makeTask<Args, R>(variant, merged);
    },
  }) as Task<Args, R>;
}

function callTask(def: TaskDefinition, args: unknown[]): Promise<unknown> {
  const scope = currentScope();
  if (!scope || scope.taskRun) {
    // Outside a flow, and inside another task, a task is its plain function.
    try {
      return Promise.resolve(def.fn(...(args as never[])));
    } catch (error) {
      return Promise.reject(error);
    }
  }
  const run = (scope.flowRun as FlowRun).createTaskRun(def, args);
  run.execute();
  return new RunPromise(() => run.result());
}

function submitTask(def: TaskDefinition, args: unknown[]): TaskFuture<unknown> {
  const flowRun = enclosingFlowRun(def, "submit");
  const run = flowRun.createTaskRun(def, args);
  flowRun.submit(run);
  return run;
}

function mapTask(def: TaskDefinition, args: unknown[]): TaskFutureList<unknown> {
  const flowRun = enclosingFlowRun(def, "map");
  const columns: (unknown[] | undefined)[] = [];
  let length: number | undefined;
  let lengthFrom = 0;
  args.forEach((arg, i) => {
    if (arg instanceof TaskRun || arg instanceof AllowFailure) {
      throw new InvalidArgumentError(
        `${def.name}.map() got a future as args[${i}], whose items are not known yet. Await it first (await future.result()), or wrap it in unmapped() to pass it whole.`,
      );
    }
    if (!isMappable(arg)) {
      columns.push(undefined);
      return;
    }
    const items = Array.from(arg);
    if (length === undefined) {
      length = items.length;
      lengthFrom = i;
    } else if (items.length !== length) {
      throw new InvalidArgumentError(
        `${def.name}.map() got iterables of different lengths: args[${lengthFrom}] has ${length} items, args[${i}] has ${items.length}. Pass iterables of one length, or wrap a constant in unmapped().`,
      );
    }
    columns.push(items);
  });
  if (length === undefined) {
    throw new InvalidArgumentError(
      `${def.name}.map() needs at least one iterable argument (such as an array) to map over. Use ${def.name}.submit() for a single run.`,
    );
  }
  const futures = new TaskFutureList<unknown>();
  for (let j = 0; j < length; j++) {
    const runArgs = args.map((arg, i) => {
      const column = columns[i];
      if (column) return column[j];
      return arg instanceof Unmapped ? arg.value : arg;
    });
    const run = flowRun.createTaskRun(def, runArgs);
    flowRun.submit(run);
    futures.push(run);
  }
  return futures;
}

function mapStreamTask(def: TaskDefinition, items: unknown, options: MapStreamOptions | undefined) {
  const flowRun = enclosingFlowRun(def, "mapStream");
  const maxInFlight = checkMapStream(def.name, items, options);
  const rest = options?.args ?? [];
  return new TaskRunStream<unknown>(
    def.name,
    items as Iterable<unknown> | AsyncIterable<unknown>,
    maxInFlight,
    (item) => {
      const run = flowRun.createTaskRun(def, [item, ...rest]);
      flowRun.submit(run);
      return run;
    },
  );
}

/** Strings and byte buffers are values, not collections, when mapping (as in Prefect). */
function isMappable(value: unknown): value is Iterable<unknown> {
  if (typeof value !== "object" || value === null || value instanceof Unmapped) return false;
  if (ArrayBuffer.isView(value)) return false;
  return typeof (value as Iterable<unknown>)[Symbol.iterator] === "function";
}

function enclosingFlowRun(def: TaskDefinition, method: "submit" | "map" | "mapStream"): FlowRun {
  const scope = currentScope();
  if (!scope) {
    throw new MissingContextError(
      `${def.name}.${method}() was called outside a flow. Call it inside a flow function, or call ${def.name}(...) to run the function now.`,
    );
  }
  if (scope.taskRun) {
    throw new MissingContextError(
      `${def.name}.${method}() was called inside task run '${scope.taskRun.name}'. Submit tasks from the flow function, or call ${def.name}(...) to run it inside this task.`,
    );
  }
  return scope.flowRun as FlowRun;
}

function checkWaitFor(waitFor: unknown): readonly unknown[] {
  if (typeof (waitFor as Iterable<unknown>)?.[Symbol.iterator] !== "function") {
    throw new InvalidArgumentError(
      `Expected \`waitFor\` to be an iterable of task futures, got \`${String(waitFor)}\``,
    );
  }
  const list = [...(waitFor as Iterable<unknown>)];
  list.forEach((item, i) => {
    if (!(item instanceof TaskRun) && !(item instanceof AllowFailure)) {
      throw new InvalidArgumentError(
        `Expected \`waitFor[${i}]\` to be a task future, got \`${String(item)}\``,
      );
    }
  });
  return list;
}
