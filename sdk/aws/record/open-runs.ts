// Open-run markers (`open/<flowRunId>`): the coordinator's sweep lists them to find every flow
// run that might never end (its caller killed, an outcome lost). The caller writes its run's
// marker before it sends anything, so a run is findable from its first message on, even if its
// caller dies before any outcome is recorded; the coordinator removes it once the run is final.

export const OPEN_PREFIX = "open/";

export function openRunKey(flowRunId: string): string {
  return `${OPEN_PREFIX}${flowRunId}`;
}

/** What marking a run open takes of the bucket: a conditional create. */
export interface MarkerWriter {
  create(key: string, value: Uint8Array): Promise<boolean>;
}

/**
 * Marks a flow run open, holding the time it was opened: the sweep's sign of life for a run
 * whose caller wrote no heartbeat. One PUT per flow run; an existing marker is kept.
 */
export async function markRunOpen(store: MarkerWriter, flowRunId: string, at = Date.now()): Promise<void> {
  await store.create(openRunKey(flowRunId), new TextEncoder().encode(String(at)));
}

/** When the run was opened, from its marker's bytes; `undefined` if they do not say. */
export function openedAt(bytes: Uint8Array): number | undefined {
  const at = Number(new TextDecoder().decode(bytes));
  return Number.isFinite(at) ? at : undefined;
}
