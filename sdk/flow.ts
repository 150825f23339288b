import { currentScope, isWorker } from "./context.js";
import type { FlowDefinition } from "./engine/definitions.js";
import { FlowRun, type FlowRunIdentity, type FlowRunState } from "./engine/flow-run.js";
import { InvalidArgumentError } from "./errors.js";
import { checkName, definitionArgs, type FlowOptions, flowSettings } from "./options.js";
import { callerModule, noteSkippedFlowCall, registerFlow } from "./registry.js";
import { RunPromise } from "./run-promise.js";
import { noteFlowCaller } from "./serialization/errors.js";

/** A flow: call it to run it and get its return value, or `.run()` it to get its final state. */
export interface Flow<Args extends unknown[], R> {
  /** Runs the flow; resolves to its return value, or rejects with the error it failed with. */
  (...args: Args): Promise<Awaited<R>>;
  readonly name: string;
  /** The plain function. */
  readonly fn: (...args: Args) => R;
  readonly options: FlowOptions<Awaited<R>>;
  /** Runs the flow and resolves to its final state; never rejects. */
  run(...args: Args): Promise<FlowRunState<Awaited<R>>>;
  /** The same flow with some options changed (a task runner, a cancellation signal, ...). */
  withOptions(options: FlowOptions<Awaited<R>>): Flow<Args, R>;
}

/**
 * Makes a flow of a function. Tasks it submits go to its task runner; it finishes when
 * the function has returned and every run it started has finished.
 *
 * @example
 * const greetings = flow({ taskRunner: new SequentialTaskRunner() }, function greetings(names: string[]) {
 *   for (const name of names) {
 *     sayHello.submit(name);
 *     sayGoodbye.submit(name);
 *   }
 * });
 * await greetings(["arthur", "trillian", "ford", "marvin"]);
 */
export function flow<Args extends unknown[], R>(fn: (...args: Args) => R): Flow<Args, R>;
export function flow<Args extends unknown[], R>(
  options: FlowOptions<Awaited<R>>,
  fn: (...args: Args) => R,
): Flow<Args, R>;
export function flow<Args extends unknown[], R>(
  first: FlowOptions<Awaited<R>> | ((...args: Args) => R),
  second?: (...args: Args) => R,
): Flow<Args, R> {
  const [options, fn] = definitionArgs<FlowOptions<Awaited<R>>, (...args: Args) => R>("flow", first, second);
  return makeFlow<Args, R>(fn, options);
}

function makeFlow<Args extends unknown[], R>(
  fn: (...args: Args) => R,
  options: FlowOptions<Awaited<R>>,
  register = true,
): Flow<Args, R> {
  const def: FlowDefinition = {
    name: checkName(options?.name ?? fn.name, "flow"),
    fn: fn as FlowDefinition["fn"],
    settings: flowSettings(options as FlowOptions<unknown>),
  };
  const start = (args: unknown[], runDef = def, identity?: FlowRunIdentity) => {
    const parent = currentScope()?.flowRun as FlowRun | undefined;
    if (!parent) noteFlowCaller(callerModule()); // it may still be evaluating: see learnErrorClassesOf
    return new FlowRun<Awaited<R>>(runDef, args, parent, identity);
  };
  // A flow-runner finds it by name; its variants (withOptions) are not registered.
  if (register) {
    const starter = (args: unknown[], overrides?: FlowOptions<unknown>, identity?: FlowRunIdentity) => {
      const settings = overrides && flowSettings({ ...(options as FlowOptions<unknown>), ...overrides });
      const run = start(args, settings ? { ...def, settings } : def, identity);
      return { id: run.id, name: run.name, final: run.finalState() as Promise<FlowRunState<unknown>> };
    };
    registerFlow(def.name, Object.assign(starter, { fn, taskRunnerName: def.settings.taskRunner?.name }));
  }
  const call = (...args: Args) => {
    if (skippedInWorker()) return NEVER as Promise<Awaited<R>>;
    const run = start(args);
    return new RunPromise(() => run.result());
  };
  Object.defineProperty(call, "name", { value: def.name });
  return Object.assign(call, {
    fn,
    options,
    run: (...args: Args) =>
      skippedInWorker() ? (NEVER as Promise<FlowRunState<Awaited<R>>>) : start(args).finalState(),
    withOptions: (more: FlowOptions<Awaited<R>>) => {
      if (typeof more !== "object" || more === null) {
        throw new InvalidArgumentError(
          `Expected withOptions() to get an options object, got \`${String(more)}\``,
        );
      }
      return makeFlow<Args, R>(fn, { ...options, ...more }, false);
    },
  }) as Flow<Args, R>;
}

/**
 * A worker importing a module to find its tasks does not run the flows the module calls at top
 * level. Such a call never settles there, so the module's code after an awaited call (printing
 * the flow's result, say) does not run in the worker either; the tasks defined before it are
 * registered already.
 */
function skippedInWorker(): boolean {
  if (!isWorker() || currentScope() !== undefined) return false;
  noteSkippedFlowCall(callerModule());
  return true;
}

const NEVER: Promise<never> = new Promise(() => {});
