// Asking a flow run in a bucket to cancel: `runs/<id>/cancel`, which the run's session reads and
// honours. A plain PUT, as the caller policy's `runs/*` put allows: asking twice only moves the time.
import type { SquallAddress } from "../address.js";
import { cancelRequestKey } from "../runner/cancel-watch.js";
import { bucketStore } from "./bucket-runs.js";

export { cancelRequestKey };

/** What the cancel request holds: when it was asked for, in milliseconds since the epoch. */
export interface CancelRequest {
  readonly requestedAt: number;
}

/**
 * Writes the request that flow run `flowRunId` cancel, in the bucket at `address`.
 *
 * @example
 * await requestCancel(await addressFromStack("Squall"), "0b7c4f8e-...");
 */
export async function requestCancel(
  address: SquallAddress,
  flowRunId: string,
  now = Date.now(),
): Promise<CancelRequest> {
  const { s3, store } = bucketStore(address);
  const request: CancelRequest = { requestedAt: now };
  try {
    await store.put(cancelRequestKey(flowRunId), new TextEncoder().encode(JSON.stringify(request)));
  } finally {
    s3.destroy();
  }
  return request;
}
