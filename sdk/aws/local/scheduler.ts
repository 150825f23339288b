// The local environment's EventBridge Scheduler: each enabled schedule fires at its times (cron in
// its time zone, a rate from when the scheduler started) by invoking the flow-runner through the
// emulator's Lambda Invoke API with InvocationType Event and the input the stack's schedule sends.
import type { CheckedSchedule } from "../schedules/definition.js";
import { nextFireTimes } from "../schedules/fire-times.js";

/** Where the flow-runner is: the emulator's endpoint and the function's name. */
export interface InvokeTarget {
  readonly endpoint: string;
  readonly functionName: string;
}

/** A running scheduler: when it started (its rates count from then), and how to stop it. */
export interface LocalScheduler {
  /** Milliseconds since the epoch. */
  readonly since: number;
  /** Fires nothing more; an invocation already sent goes on. */
  stop(): void;
}

/** Timers wait at most this long before they look at the clock again (setTimeout caps at 24.8 days). */
const LONGEST_WAIT_MS = 3_600_000;

/**
 * Starts firing `schedules` (the disabled ones never fire); `fire` takes a firing to the
 * flow-runner (the environment's is `invokeEvent`). A firing failed is logged, and the next one
 * comes at its time.
 */
export function startLocalScheduler(
  schedules: readonly CheckedSchedule[],
  fire: (schedule: CheckedSchedule) => Promise<void>,
): LocalScheduler {
  const since = Date.now();
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;
  const arm = (schedule: CheckedSchedule, after: number) => {
    const next = nextFireTimes(schedule, new Date(after), 1, since)[0];
    if (next === undefined || stopped) return;
    const wait = () => {
      const timer = setTimeout(
        () => {
          timers.delete(timer);
          if (stopped) return;
          if (Date.now() < next.getTime()) return wait();
          void fire(schedule).catch((error: Error) => {
            process.stderr.write(
              `squall local: schedule '${schedule.name}' could not start flow '${schedule.flow}': ${error.message}\n`,
            );
          });
          arm(schedule, next.getTime());
        },
        Math.min(Math.max(next.getTime() - Date.now(), 0), LONGEST_WAIT_MS),
      );
      timer.unref();
      timers.add(timer);
    };
    wait();
  };
  for (const schedule of schedules) if (schedule.enabled) arm(schedule, since);
  return {
    since,
    stop() {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}

/**
 * Invokes the flow-runner as EventBridge Scheduler does: Lambda's Invoke API, InvocationType
 * Event, the schedule's input as the payload. Lambda answers 202 once it has taken the event.
 */
export async function invokeEvent(target: InvokeTarget, schedule: CheckedSchedule): Promise<void> {
  const url = `${target.endpoint}/2015-03-31/functions/${encodeURIComponent(target.functionName)}/invocations`;
  const answer = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", "x-amz-invocation-type": "Event" },
    body: schedule.inputJson,
  });
  await answer.arrayBuffer();
  if (answer.status !== 202) throw new Error(`the Invoke API answered ${answer.status}, not 202`);
}
