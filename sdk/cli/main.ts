// The squall command: `squall run`, `runs`, `show`, `logs`, `cancel`, `dashboard`, `schedules`
// and `env`. Exit codes: 0 when all went well (for `run`, the flow run Completed; for `cancel`, it
// ended Cancelled), 1 when the flow run did not complete or something unexpected failed, 2 for a
// command that cannot be carried out as given, 128 + n when signal n cancelled the flow run (bin.ts
// then ends the process by that signal).
import { readFileSync } from "node:fs";
import { Command, CommanderError, Option } from "commander";
import { RecordsUnreadableError, type RunBackend, RunLookupError } from "../records/backend.js";
import { LocalRunBackend } from "../records/local-backend.js";
import { defaultRoot } from "../records/record.js";
import { logsCommand } from "./logs-command.js";
import { runCommand } from "./run-command.js";
import { RUNNERS, stackAddress } from "./runner-option.js";
import { runsCommand } from "./runs-command.js";
import { showCommand } from "./show-command.js";
import { UsageError } from "./usage-error.js";

type EnvStartOptions = import("./env-command.js").EnvStartOptions;

/** Type-only: nothing here loads squall/aws until a command asks for a bucket. */
type SquallAddress = import("../aws/address.js").SquallAddress;

interface SourceOptions {
  readonly env?: boolean;
  readonly stack?: string;
  readonly region?: string;
  readonly endpoint?: string;
}

/** Runs the command line `argv` (without `node` and the script); resolves with the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  let code = 0;
  const program = new Command("squall")
    .description("Run squall flows, and look into the flow runs recorded under .squall/ (or $SQUALL_HOME).")
    .version(version(), "-v, --version")
    .exitOverride()
    .showSuggestionAfterError(true)
    .addHelpText(
      "after",
      [
        "",
        "Runs on a stack (or, with --env, on the local environment squall env start --flows keeps):",
        "  squall run flows.ts:report --stack Squall --detach  start it there; prints its id",
        "  squall logs --follow <id> --stack Squall            follow it until it is final",
        "  squall cancel <id> --stack Squall                   cancel it, and wait for its end",
      ].join("\n"),
    );
  oneLineErrors(program);

  stackOptions(
    program
      .command("run")
      .description('Run a flow: squall run flows.ts:greetings --params \'[["arthur", "ford"]]\'')
      .argument("<file:flow>", "the module that defines the flow, and the flow's name")
      .option(
        "--params <json>",
        "the flow's arguments: a JSON array of them, or one JSON value for one argument",
      )
      .addOption(
        new Option(
          "--runner <runner>",
          "run the flow's submitted tasks on this task runner instead of its own",
        ).choices(RUNNERS),
      )
      .option(
        "--detach",
        "start the run on the flow-runner of --stack (or --env) and return at once, printing its id (follow it with squall logs --follow <id>)",
      ),
    "run the tasks on this deployed stack's Lambda functions (implies --runner lambda); with --detach, the whole run on its flow-runner",
  ).action(async (target: string, options) => {
    code = await runCommand(target, options);
  });

  stackOptions(
    program
      .command("runs")
      .description("List the recorded flow runs, newest first")
      .option("--limit <n>", "how many to list", "20"),
    "list the flow runs in this deployed stack's bucket",
  ).action(async (options: SourceOptions & { limit: string }) => {
    code = await runsCommand(await backendFor(options), options);
  });

  stackOptions(
    program
      .command("show")
      .description("Show a flow run: its task runs with states, durations, attempts, and errors with stacks")
      .argument("<run>", "the flow run's id (or the start of it) or name"),
    "read the flow run from this deployed stack's bucket",
  ).action(async (run: string, options: SourceOptions) => {
    code = await showCommand(await backendFor(options), run);
  });

  stackOptions(
    program
      .command("logs")
      .description("Print a flow run's log lines and console output")
      .argument("<run>", "the flow run's id (or the start of it) or name")
      .option("-f, --follow", "keep printing new lines until the run is final"),
    "read the flow run from this deployed stack's bucket",
  ).action(async (run: string, options: SourceOptions & { follow?: boolean }) => {
    code = await logsCommand(await backendFor(options), run, options);
  });

  stackOptions(
    program
      .command("cancel")
      .description(
        "Cancel a flow run in a bucket (started with --detach or startFlowRun), then wait until it is final",
      )
      .argument("<run>", "the flow run's id (or the start of it) or name")
      .option("--no-wait", "return once the request is written, without waiting for the run to end"),
    "cancel the flow run in this deployed stack's bucket",
  ).action(async (run: string, options: SourceOptions & { wait: boolean }) => {
    const { cancelCommand } = await import("./cancel-command.js");
    const { backend, address } = await sourceFor(options);
    code = await cancelCommand(backend, address, run, { wait: options.wait, flags: sourceFlags(options) });
  });

  // The dashboard lives in ./dashboard/, loaded only for this command.
  stackOptions(
    program
      .command("dashboard")
      .description("Serve a page on 127.0.0.1 that shows the recorded flow runs, following live ones")
      .option("--port <n>", "the port to serve on (default: a free one)")
      .option("--open", "open the page in the browser"),
    "show the flow runs in this deployed stack's bucket",
  ).action(async (options: SourceOptions & { port?: string; open?: boolean }) => {
    const { dashboardCommand } = await import("./dashboard/index.js");
    // A local record is named in the page by its folder; the dashboard opens it from its root.
    const bucket = options.env || options.stack !== undefined;
    code = await dashboardCommand({ ...options, backend: bucket ? await backendFor(options) : undefined });
  });

  stackOptions(
    program
      .command("schedules")
      .description("List the schedules that start flows, when each fires next, and its last runs"),
    "list the schedules of this deployed stack",
  ).action(async (options: SourceOptions) => {
    const { schedulesCommand } = await import("./schedules-command.js");
    code = await schedulesCommand(options);
  });

  const env = oneLineErrors(
    program
      .command("env")
      .description(
        "A local environment kept running for this project (announced in .squall/env.json): runs with --runner lambda, LambdaTaskRunner() in scripts and --env readers use it",
      ),
  );
  const envSetup = (command: Command) =>
    oneLineErrors(command)
      .option("--port <n>", "the emulator's port on 127.0.0.1 (default: a free one)")
      .option("--workers <n>", "worker function threads (default: one per core)")
      .option(
        "--pools <json>",
        'worker pools besides the default one, e.g. \'{"large":{"workers":1,"workerTimeoutSeconds":600}}\' (default: none)',
      )
      .option(
        "--flows <module>",
        "a flows module for a flow-runner function, invoked through Lambda's Invoke API at the endpoint",
      )
      .option(
        "--schedules <file.json>",
        'schedules that start its flows, as the stack\'s: [{"name":"nightly","flow":"report","cron":"0 2 * * *"}] (needs --flows)',
      );
  envSetup(env.command("start").description("Start it in a process of its own and print where it is")).action(
    async (options: EnvStartOptions) => {
      const { envStart } = await import("./env-command.js");
      code = await envStart(options);
    },
  );
  oneLineErrors(env.command("stop").description("Stop it and remove its announcement")).action(async () => {
    const { envStop } = await import("./env-command.js");
    code = await envStop();
  });
  oneLineErrors(
    env
      .command("status")
      .description("Whether it runs, where, for how long, and what its queues and bucket hold"),
  ).action(async () => {
    const { envStatus } = await import("./env-command.js");
    code = await envStatus();
  });
  envSetup(
    env.command("serve", { hidden: true }).description("Run it in this process (what start starts)"),
  ).action(async (options: EnvStartOptions) => {
    const { envServe } = await import("./env-command.js");
    code = await envServe(options);
  });

  try {
    await program.parseAsync([...argv], { from: "user" });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit 0; commander has printed its one-line error for the rest.
      return error.exitCode === 0 ? 0 : 2;
    }
    // A run that is not there, or records that cannot be read, are the command's trouble too.
    if (
      error instanceof UsageError ||
      error instanceof RunLookupError ||
      error instanceof RecordsUnreadableError
    ) {
      process.stderr.write(`squall: ${error.message}\n`);
      return 2;
    }
    process.stderr.write(`squall: ${(error as Error)?.stack ?? String(error)}\n`);
    return 1;
  }
}

function stackOptions(command: Command, stackHelp: string): Command {
  oneLineErrors(command);
  command.option(
    "--env",
    command.name() === "run"
      ? "with --detach: start the run on the flow-runner of the local environment squall env start --flows keeps"
      : "read the bucket of the local environment squall env start keeps for this project",
  );
  return command
    .option("--stack <name>", stackHelp)
    .option("--region <region>", "the stack's region (default: AWS_REGION, or the profile's)")
    .option(
      "--endpoint <url>",
      "an endpoint to reach the stack at, such as LocalStack's http://localhost:4566",
    );
}

/** Commander's errors as one line, with where to look for the usage. */
function oneLineErrors(command: Command): Command {
  command.configureOutput({
    outputError: (text, write) => {
      const message = text
        .replace(/^error: /, "")
        .replace(/\s*\n\s*/g, " ")
        .trim()
        .replace(/\.$/, "");
      const name = command.name() === "squall" ? "squall" : `squall ${command.name()}`;
      write(`squall: ${message}; see ${name} --help\n`);
    },
  });
  return command;
}

/** The kept local environment's address, when `--env` asks for it; `--env` and `--stack` exclude each other. */
async function envAddress(
  options: SourceOptions,
): Promise<{ address: SquallAddress; where: string } | undefined> {
  if (!options.env) return undefined;
  if (options.stack !== undefined) {
    throw new UsageError(
      "--env reads the kept local environment and --stack a deployed stack: give one of them.",
    );
  }
  const { announcedForReading } = await import("./env-command.js");
  const { announcedAddress } = await import("../aws/local/announcement.js");
  const announcement = await announcedForReading();
  return {
    address: announcedAddress(announcement),
    where: `the local environment (bucket ${announcement.bucket})`,
  };
}

/**
 * Where `runs`, `show`, `logs` and `dashboard` read flow runs: the local record, the kept local
 * environment's bucket (`--env`), or a deployed stack's bucket (`--stack`).
 */
async function backendFor(options: SourceOptions): Promise<RunBackend> {
  return (await sourceFor(options)).backend;
}

/** The backend, with the bucket's address when it reads one (`--env`, `--stack`). */
async function sourceFor(options: SourceOptions): Promise<{ backend: RunBackend; address?: SquallAddress }> {
  const kept = await envAddress(options);
  if (kept) {
    const { BucketRunBackend } = await import("../aws/records/bucket-backend.js");
    const backend = new BucketRunBackend(kept.address, { where: kept.where, lister: "squall runs --env" });
    return { backend, address: kept.address };
  }
  if (options.stack === undefined) return { backend: new LocalRunBackend(defaultRoot()) };
  // Loaded only here: the local record never loads the AWS SDK.
  const address = await stackAddress({ ...options, stack: options.stack });
  const { BucketRunBackend } = await import("../aws/records/bucket-backend.js");
  const backend = new BucketRunBackend(address, {
    where: `stack '${options.stack}' (bucket ${address.bucket})`,
    lister: "squall runs --stack ...",
  });
  return { backend, address };
}

/** The options that name where a run is, as a command line repeats them. */
function sourceFlags(options: SourceOptions): string {
  if (options.env) return "--env";
  return [
    ...(options.stack !== undefined ? [`--stack ${options.stack}`] : []),
    ...(options.region !== undefined ? [`--region ${options.region}`] : []),
    ...(options.endpoint !== undefined ? [`--endpoint ${options.endpoint}`] : []),
  ].join(" ");
}

function version(): string {
  for (const path of ["../../package.json", "../../../package.json"]) {
    try {
      return (JSON.parse(readFileSync(new URL(path, import.meta.url), "utf8")) as { version: string })
        .version;
    } catch {}
  }
  return "unknown";
}
