// `squall schedules --stack X` (or `--env`): the schedules that start flows, when each fires next,
// and each one's last runs (up to 3).
import { colorsFor } from "./format.js";
import { formatSchedules } from "./schedules-format.js";
import { UsageError } from "./usage-error.js";

export interface SchedulesOptions {
  readonly env?: boolean;
  readonly stack?: string;
  readonly region?: string;
  readonly endpoint?: string;
}

export async function schedulesCommand(options: SchedulesOptions): Promise<number> {
  if (options.env && options.stack !== undefined) {
    throw new UsageError(
      "--env reads the kept local environment and --stack a deployed stack: give one of them.",
    );
  }
  if (!options.env && options.stack === undefined) {
    throw new UsageError(
      "Schedules live on a deployed stack or the kept local environment: give --stack <name> or --env.",
    );
  }
  // Loaded only here: the AWS SDK and croner are for this command.
  const { keptScheduleReport, stackScheduleReport, ScheduleReportError } = await import(
    "../aws/cli/schedule-report.js"
  );
  let report: Awaited<ReturnType<typeof stackScheduleReport>>;
  try {
    if (options.env) {
      const { announcedForReading } = await import("./env-command.js");
      report = await keptScheduleReport(await announcedForReading());
    } else {
      report = await stackScheduleReport({ ...options, stack: options.stack as string });
    }
  } catch (error) {
    if (error instanceof ScheduleReportError) throw new UsageError(error.message);
    throw error;
  }
  if (report.rows.length === 0) {
    process.stdout.write(
      `No schedules in ${report.where}: ${options.env ? "squall env start --flows <module> --schedules <file.json>" : "the Squall construct's `schedules`"} gives some.\n`,
    );
    return 0;
  }
  const colors = colorsFor(process.stdout);
  process.stdout.write(formatSchedules(report.rows, Date.now(), colors));
  if (report.unread > 0) {
    process.stdout.write(
      colors.dim(`(the last runs are among the first runs listed: ${report.unread} more were not read)\n`),
    );
  }
  return 0;
}
