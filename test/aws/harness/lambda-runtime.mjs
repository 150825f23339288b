// The harness's stand-in for Lambda's Node.js runtime, run as the process of one execution
// environment: it imports the handler named by _HANDLER from LAMBDA_TASK_ROOT (the init phase),
// then runs one invocation per "invoke" message from the harness, and answers each with the
// handler's response serialized as JSON, or with the error it threw, as Lambda reports errors.
// Plain JavaScript run by plain Node: nothing here may load code the function's bundle would
// not find on Lambda.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const root = process.env.LAMBDA_TASK_ROOT ?? process.cwd();
const handlerName = process.env._HANDLER ?? "index.handler";
const dot = handlerName.lastIndexOf(".");
const file = handlerName.slice(0, dot);
const exported = handlerName.slice(dot + 1);

/** As Lambda reports an error: its class name, message and stack lines. */
function errorOf(thrown, fallbackType) {
  const error = thrown instanceof Error ? thrown : new Error(String(thrown));
  return {
    errorType: fallbackType ?? error.name,
    errorMessage: error.message,
    trace: String(error.stack ?? "")
      .split("\n")
      .map((line) => line.trim()),
  };
}

let handler;
let initError;
try {
  const path = [".mjs", ".js", ".cjs"].map((ext) => join(root, `${file}${ext}`)).find((p) => existsSync(p));
  if (!path) {
    initError = {
      errorType: "Runtime.ImportModuleError",
      errorMessage: `Error: Cannot find module '${file}'`,
      trace: [],
    };
  } else {
    const module = await import(pathToFileURL(path).href);
    handler = module[exported];
    if (typeof handler !== "function") {
      initError = {
        errorType: "Runtime.HandlerNotFound",
        errorMessage: `${handlerName} is undefined or not exported`,
        trace: [],
      };
    }
  }
} catch (thrown) {
  initError = errorOf(thrown);
}

let current; // the invocation under way, to fail if the process is about to die
const fail = (type) => (thrown) => {
  if (current !== undefined) {
    process.send?.({ type: "error", id: current, error: errorOf(thrown, type) });
    current = undefined;
  }
  process.exitCode = 129;
  setImmediate(() => process.exit(129));
};
process.on("uncaughtException", fail("Runtime.UncaughtException"));
process.on("unhandledRejection", fail("Runtime.UnhandledPromiseRejection"));

process.on("message", async (message) => {
  if (message?.type !== "invoke") return;
  const { id, event, deadline, context } = message;
  current = id;
  const lambdaContext = {
    ...context,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(deadline - Date.now(), 0),
  };
  try {
    const response = await handler(event, lambdaContext);
    const payload = JSON.stringify(response === undefined ? null : response);
    if (current === id) process.send?.({ type: "response", id, payload });
  } catch (thrown) {
    if (current === id) process.send?.({ type: "error", id, error: errorOf(thrown) });
  }
  if (current === id) current = undefined;
});

process.send?.({ type: "ready", error: initError });
