// Starts the embedded emulator with the harness's layers in front of its handlers. The layers
// are Fastify hooks on the emulator's app, as its own fault layer is; the app is reached through
// Fastify's `fastify.initialization` diagnostics channel, which fires while the app is being
// built, before the emulator adds its own hooks and starts listening, so the harness's hooks run
// first. One start at a time, so that each start gets its own app.
import diagnostics from "node:diagnostics_channel";
import type { FastifyInstance } from "fastify";
import { type Emulator, startEmulator } from "../../../sdk/aws/emulator.js";

let turn: Promise<unknown> = Promise.resolve();

export async function startEmulatorWith(install: (app: FastifyInstance) => void): Promise<Emulator> {
  const start = turn.then(async () => {
    let installed = false;
    let failure: unknown;
    const onApp = (message: unknown) => {
      if (installed) return;
      installed = true;
      try {
        install((message as { fastify: FastifyInstance }).fastify);
      } catch (error) {
        failure = error;
      }
    };
    diagnostics.subscribe("fastify.initialization", onApp);
    try {
      const emulator = await startEmulator();
      if (!installed || failure) {
        await emulator.stop();
        throw failure ?? new Error("The emulator's app was never seen: its layers could not be installed.");
      }
      return emulator;
    } finally {
      diagnostics.unsubscribe("fastify.initialization", onApp);
    }
  });
  turn = start.catch(() => {});
  return start;
}
