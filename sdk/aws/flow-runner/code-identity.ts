import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { BUNDLED_MODULES_VARIABLE } from "../../bundle-identity.js";

/**
 * The code a flow-runner runs flows with, as one hash: a deployed bundle's list of the project
 * files it was built from with their hashes (so any change to the flows module or a file it
 * imports changes it), or elsewhere the flows module's own source. A durable run records it at
 * start; a resume under another identity fails the run instead of replaying other code against
 * the record.
 */
export function flowsCodeIdentity(env: NodeJS.ProcessEnv, flowsModule: string | undefined): string {
  const bundled = env[BUNDLED_MODULES_VARIABLE];
  if (bundled) return `bundle:${hash(bundled)}`;
  if (!flowsModule) return "unknown";
  try {
    const path = flowsModule.startsWith("file:") ? fileURLToPath(flowsModule) : flowsModule;
    return `module:${hash(readFileSync(path))}`;
  } catch {
    return "unknown";
  }
}

function hash(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex").slice(0, 16);
}
