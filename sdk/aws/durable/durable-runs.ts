import type { Journal } from "./journal.js";

/**
 * A flow run this process drives durably (a flow-runner invocation started or resumed it): what
 * its Lambda runner session needs beyond a laptop's. The driver registers it before starting
 * the flow function, and the session of the flow run with that id picks it up.
 */
export interface DurableRun {
  readonly flowRunId: string;
  /** The run's signing key, which the run had from its first start (written there, read on resume). */
  readonly key: Uint8Array;
  /** What drivers sent: written before each send, read to resume. */
  readonly journal: Journal;
  /** Whether an earlier driver ran it: the flow function is running again, to catch up. */
  readonly resumed: boolean;
  /** When this driver began: outcomes that ended before were seen, and their lines printed, by an earlier one. */
  readonly since: number;
  /** Set at handoff: the session sends nothing more, and no flow-returned notice; the next driver goes on. */
  suspended: boolean;
  /** What stops the session's reading and heartbeat at handoff, which it registers as it starts. */
  readonly quiet: (() => Promise<void>)[];
  /** Set by the session when the flow diverged from its journal: the run fails with it. */
  diverged?: Error;
  /**
   * Told by the session when the flow sleeps until `endsAt`: the driver hands the run on, to be
   * resumed then, when that is past its own invocation's end, rather than hold a function running.
   */
  sleeping?: (endsAt: number) => void;
}

const driven = new Map<string, DurableRun>();

/** Registers a run as driven durably here, until the returned function is called. */
export function driveDurably(run: DurableRun): () => void {
  driven.set(run.flowRunId, run);
  return () => {
    if (driven.get(run.flowRunId) === run) driven.delete(run.flowRunId);
  };
}

/** The durable run of this id driven here, if it is one. */
export function durableRunOf(flowRunId: string): DurableRun | undefined {
  return driven.get(flowRunId);
}
