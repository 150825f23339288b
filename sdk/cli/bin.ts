// What the `squall` command runs (through sdk/cli/squall.js): the command line, then exit with its code
// once the output is written out.
import { main } from "./main.js";
import { stoppingSignal } from "./run-command.js";

const code = await main(process.argv.slice(2));
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
const signal = stoppingSignal();
if (signal) {
  // A run cancelled by a signal ends the process by that signal once recorded, as a Unix program
  // stopped by one does; should something still catch it, the exit code says the same (128 + n).
  process.exitCode = code;
  process.kill(process.pid, signal);
  setTimeout(() => process.exit(code), 1_000);
} else process.exit(code);

function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    stream.write("", () => resolve());
  });
}
