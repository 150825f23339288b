/**
 * squall/aws: the AWS parts of squall, kept apart so that `import "squall"` never loads the AWS SDK.
 *
 * @example
 * import { S3ResultStore } from "squall/aws";
 *
 * const store = new S3ResultStore({ bucket: "my-results" });
 */
export { type Emulator, type EmulatorOptions, startEmulator } from "./emulator.js";
export { S3ResultStore, type S3ResultStoreOptions } from "./s3-store.js";
