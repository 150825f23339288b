// Flows started on schedules: one EventBridge Scheduler schedule per flow schedule, in a schedule
// group of the stack's own, each invoking the flow-runner (an Event invocation) with the flow's
// name, its parameters and the schedule's name. One role, trusted by Scheduler for this group's
// schedules only, may do one thing: invoke the flow-runner.
import { Duration, type RemovalPolicy, Stack, TimeZone } from "aws-cdk-lib";
import { PolicyStatement, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import {
  type IScheduleTarget,
  Schedule,
  ScheduleExpression,
  ScheduleGroup,
  ScheduleTargetInput,
  TimeWindow,
} from "aws-cdk-lib/aws-scheduler";
import { Construct } from "constructs";
import {
  type CheckedSchedule,
  checkSchedules,
  type FlowSchedule,
} from "../../sdk/aws/schedules/definition.js";

export interface FlowSchedulesProps {
  /** The function each schedule invokes with `{ flow, parameters, schedule }`. */
  readonly flowRunner: IFunction;
  readonly schedules: readonly FlowSchedule[];
  /** Of the schedule group (and so of its schedules). */
  readonly removalPolicy: RemovalPolicy;
}

/**
 * Tries of an invocation that Lambda refused (throttled, say) before the firing is dropped, and
 * how long a firing may wait for them: a flow started hours late is seldom what a schedule
 * means, and each try that Lambda did take starts a run (the flow-runner is not retried).
 */
const RETRY_ATTEMPTS = 3;
const MAX_EVENT_AGE = Duration.hours(1);

/**
 * Schedules that start flows through the flow-runner; the `Squall` construct makes one from its
 * `schedules`. Each schedule is checked at synth (`checkSchedules`).
 *
 * @example
 * new FlowSchedules(this, "FlowSchedules", {
 *   flowRunner: squall.flowRunner.function,
 *   schedules: [{ name: "nightly", flow: "report", cron: "0 2 * * *", timezone: "Europe/Paris" }],
 *   removalPolicy: RemovalPolicy.DESTROY,
 * });
 */
export class FlowSchedules extends Construct {
  readonly group: ScheduleGroup;
  /** The role Scheduler takes to invoke the flow-runner. */
  readonly role: Role;
  /** The schedules as deployed: their names, flows, expressions, zones and states. */
  readonly checked: readonly CheckedSchedule[];
  readonly schedules: readonly Schedule[];

  constructor(scope: Construct, id: string, props: FlowSchedulesProps) {
    super(scope, id);
    this.checked = checkSchedules(props.schedules);
    const stack = Stack.of(this);
    this.group = new ScheduleGroup(this, "Group", { removalPolicy: props.removalPolicy });
    // Scheduler takes the role for this group's schedules only (the confused deputy).
    this.role = new Role(this, "Role", {
      description: "EventBridge Scheduler: starts the squall flow-runner for the stack's schedules",
      assumedBy: new ServicePrincipal("scheduler.amazonaws.com", {
        conditions: {
          StringEquals: { "aws:SourceAccount": stack.account },
          ArnLike: {
            "aws:SourceArn": stack.formatArn({
              service: "scheduler",
              resource: "schedule",
              resourceName: `${this.group.scheduleGroupName}/*`,
            }),
          },
        },
      }),
    });
    this.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ["lambda:InvokeFunction"], resources: [props.flowRunner.functionArn] }),
    );
    this.schedules = this.checked.map(
      (schedule) =>
        new Schedule(this, schedule.name, {
          scheduleName: schedule.name,
          scheduleGroup: this.group,
          description: `squall: flow '${schedule.flow}'`,
          schedule: ScheduleExpression.expression(schedule.expression, TimeZone.of(schedule.timezone)),
          target: flowRunnerTarget(props.flowRunner, this.role, schedule),
          enabled: schedule.enabled,
          timeWindow:
            schedule.flexibleWindowMinutes === undefined
              ? TimeWindow.off()
              : TimeWindow.flexible(Duration.minutes(schedule.flexibleWindowMinutes)),
        }),
    );
  }
}

/** The flow-runner as a schedule's target: invoked with the schedule's input by the one role. */
function flowRunnerTarget(flowRunner: IFunction, role: Role, schedule: CheckedSchedule): IScheduleTarget {
  return {
    bind: () => ({
      arn: flowRunner.functionArn,
      role,
      input: ScheduleTargetInput.fromText(schedule.inputJson),
      retryPolicy: {
        maximumRetryAttempts: RETRY_ATTEMPTS,
        maximumEventAgeInSeconds: MAX_EVENT_AGE.toSeconds(),
      },
    }),
  };
}
