import type { TestProject } from "vitest/node";
import { startEmulator } from "../../sdk/aws/emulator.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** `http://127.0.0.1:<port>` of the emulator this run shares. */
    emulatorEndpoint: string;
  }
}

/** Starts one embedded emulator for the integration tests and stops it after the last file. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const emulator = await startEmulator();
  project.provide("emulatorEndpoint", emulator.endpoint);
  return () => emulator.stop();
}
