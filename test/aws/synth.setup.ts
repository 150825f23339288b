// One `cdk synth` of the repository's stack for the whole run of the aws tests, into a temp
// folder removed afterwards; every test deploys from that cloud assembly.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";
import { synthesize } from "./harness/synth.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** The cdk.out folder of the repository's stack, synthesized once for the run. */
    squallCloudAssembly: string;
  }
}

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export default async function setup(project: TestProject): Promise<() => void> {
  const scratch = mkdtempSync(join(tmpdir(), "squall-aws-harness-"));
  const cloudAssembly = join(scratch, "cdk.out");
  try {
    await synthesize(ROOT, cloudAssembly, join(scratch, "cdk-home"));
  } catch (error) {
    rmSync(scratch, { recursive: true, force: true });
    throw error;
  }
  project.provide("squallCloudAssembly", cloudAssembly);
  return () => rmSync(scratch, { recursive: true, force: true });
}
