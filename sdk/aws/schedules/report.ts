import type { StateName } from "../../states.js";
import type { ScheduleListing } from "./definition.js";

/** A run a schedule started, as listed. */
export interface LastRun {
  readonly id: string;
  /** The flow run's name (`witty-otter`); empty when its record does not say yet. */
  readonly name: string;
  readonly state: StateName;
  /** Milliseconds since the epoch. */
  readonly startedAt: number;
}

/** A schedule with when it fires next (unknown for a stack's rate) and its last runs, newest first. */
export interface ScheduleRow extends ScheduleListing {
  readonly next: number | undefined;
  readonly lastRuns: readonly LastRun[];
}
