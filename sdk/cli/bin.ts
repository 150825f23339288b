// What the `squall` command runs (through sdk/cli/squall.js): the command line, then exit with its code
// once the output is written out.
import { main } from "./main.js";

const code = await main(process.argv.slice(2));
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(code);

function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    stream.write("", () => resolve());
  });
}
