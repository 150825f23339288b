// A local environment kept running in a process of its own, for bench/scale.ts: it prints its
// address as one JSON line, then runs until its stdin closes (or it is sent SIGTERM).
import { startLocalEnvironment } from "squall/aws";

const local = await startLocalEnvironment({ projectRoot: process.cwd() });
let stopping: Promise<void> | undefined;
const stop = () => {
  stopping ??= local.stop().then(() => process.exit(0));
  return stopping;
};
process.once("SIGTERM", stop);
process.stdin.once("end", stop);
process.stdin.resume();
process.stdout.write(`${JSON.stringify(local.address)}\n`);
