// The stack's schedules: one EventBridge Scheduler schedule each, in the stack's own group,
// invoking the flow-runner with the flow, its parameters and the schedule's name, by a role that
// may do that and nothing else; and what synth refuses.
import type { FlowSchedule } from "squall/cdk";
import { describe, expect, it } from "vitest";
import { arn, logicalId, templateOf } from "./stack.js";

const SCHEDULES: FlowSchedule[] = [
  { name: "nightly-report", flow: "report", cron: "0 2 * * *", timezone: "Europe/Paris", params: ["eu", 3] },
  { name: "every-five", flow: "greetings", rate: "5 minutes", params: { names: ["arthur"] } },
  {
    name: "quarterly",
    flow: "report",
    cron: "cron(0 9 1 1,4,7,10 ? *)",
    timezone: "America/New_York",
    enabled: false,
    flexibleWindowMinutes: 15,
  },
];

describe("the stack's schedules", () => {
  const { squall, template } = templateOf({ schedules: SCHEDULES });
  const schedules = template.findResources("AWS::Scheduler::Schedule");
  // biome-ignore lint/suspicious/noExplicitAny: a template's properties, read as JSON
  const byName: Record<string, any> = Object.fromEntries(
    Object.values(schedules).map((resource) => [resource.Properties.Name, resource.Properties]),
  );
  const roleId = logicalId(squall.schedules?.role as NonNullable<typeof squall.schedules>["role"]);

  it("creates one schedule each, in one schedule group of the stack's", () => {
    template.resourceCountIs("AWS::Scheduler::ScheduleGroup", 1);
    expect(Object.keys(byName).sort()).toEqual(["every-five", "nightly-report", "quarterly"]);
    const group = Object.values(template.findResources("AWS::Scheduler::ScheduleGroup"))[0];
    expect(group?.Properties.Name).toMatch(/^Squall-FlowSchedules-Group-[0-9A-F]{8}$/);
    for (const properties of Object.values(byName)) expect(properties.GroupName).toBe(group?.Properties.Name);
  });

  it("writes each expression as EventBridge reads it, in its time zone, on time and enabled unless told", () => {
    expect(byName["nightly-report"]).toMatchObject({
      ScheduleExpression: "cron(0 2 * * ? *)",
      ScheduleExpressionTimezone: "Europe/Paris",
      FlexibleTimeWindow: { Mode: "OFF" },
      State: "ENABLED",
    });
    expect(byName["every-five"]).toMatchObject({
      ScheduleExpression: "rate(5 minutes)",
      ScheduleExpressionTimezone: "UTC",
      FlexibleTimeWindow: { Mode: "OFF" },
      State: "ENABLED",
    });
    expect(byName.quarterly).toMatchObject({
      ScheduleExpression: "cron(0 9 1 1,4,7,10 ? *)",
      ScheduleExpressionTimezone: "America/New_York",
      FlexibleTimeWindow: { Mode: "FLEXIBLE", MaximumWindowInMinutes: 15 },
      State: "DISABLED",
    });
  });

  it("targets the flow-runner with { flow, parameters, schedule }, the one role and a retry policy", () => {
    const inputs = Object.fromEntries(
      Object.entries(byName).map(([name, properties]) => [name, JSON.parse(properties.Target.Input)]),
    );
    expect(inputs).toEqual({
      "nightly-report": { flow: "report", parameters: ["eu", 3], schedule: "nightly-report" },
      "every-five": { flow: "greetings", parameters: { names: ["arthur"] }, schedule: "every-five" },
      quarterly: { flow: "report", parameters: [], schedule: "quarterly" },
    });
    for (const properties of Object.values(byName)) {
      expect(properties.Target).toMatchObject({
        Arn: arn(squall.flowRunner.function),
        RoleArn: { "Fn::GetAtt": [roleId, "Arn"] },
        RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 3600 },
      });
    }
  });

  it("gives the role one permission: invoking the flow-runner, trusted by Scheduler for the group's schedules", () => {
    const policies = Object.values(template.findResources("AWS::IAM::Policy")).filter((policy) =>
      (policy.Properties.Roles as unknown[]).some(
        (role) => JSON.stringify(role) === JSON.stringify({ Ref: roleId }),
      ),
    );
    expect(policies.map((policy) => policy.Properties.PolicyDocument.Statement)).toEqual([
      [{ Effect: "Allow", Action: "lambda:InvokeFunction", Resource: arn(squall.flowRunner.function) }],
    ]);
    const role = template.toJSON().Resources[roleId];
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      {
        Effect: "Allow",
        Action: "sts:AssumeRole",
        Principal: { Service: "scheduler.amazonaws.com" },
        Condition: {
          StringEquals: { "aws:SourceAccount": { Ref: "AWS::AccountId" } },
          ArnLike: {
            "aws:SourceArn": {
              "Fn::Join": [
                "",
                [
                  "arn:",
                  { Ref: "AWS::Partition" },
                  ":scheduler:",
                  { Ref: "AWS::Region" },
                  ":",
                  { Ref: "AWS::AccountId" },
                  `:schedule/${squall.schedules?.group.scheduleGroupName}/*`,
                ],
              ],
            },
          },
        },
      },
    ]);
  });

  it("lists the schedules in the Schedules output", () => {
    expect(JSON.parse(template.toJSON().Outputs.Schedules.Value)).toEqual([
      {
        name: "nightly-report",
        flow: "report",
        expression: "cron(0 2 * * ? *)",
        timezone: "Europe/Paris",
        enabled: true,
      },
      {
        name: "every-five",
        flow: "greetings",
        expression: "rate(5 minutes)",
        timezone: "UTC",
        enabled: true,
      },
      {
        name: "quarterly",
        flow: "report",
        expression: "cron(0 9 1 1,4,7,10 ? *)",
        timezone: "America/New_York",
        enabled: false,
      },
    ]);
  });

  it("has no schedule, group, role nor output without schedules", () => {
    const { template: plain } = templateOf();
    plain.resourceCountIs("AWS::Scheduler::Schedule", 0);
    plain.resourceCountIs("AWS::Scheduler::ScheduleGroup", 0);
    expect(plain.toJSON().Outputs.Schedules).toBeUndefined();
  });
});

describe("schedules refused at synth", () => {
  const refused =
    (schedule: Record<string, unknown>, others: FlowSchedule[] = []) =>
    () =>
      templateOf({ schedules: [...others, schedule as unknown as FlowSchedule] });
  const base = { name: "nightly", flow: "report" };

  it.each([
    [
      { ...base, name: "Nightly", rate: "1 hour" },
      "Expected `schedules[0]`.name to be lowercase letters, digits and `-`, starting with a letter, up to 64, got `Nightly`",
    ],
    [
      { ...base, name: `n${"x".repeat(64)}`, rate: "1 hour" },
      /^Expected `schedules\[0\]`.name to be lowercase/,
    ],
    [{ ...base }, "Expected schedule 'nightly' to have exactly one of `cron` and `rate`, got neither"],
    [
      { ...base, cron: "0 2 * * *", rate: "1 hour" },
      "Expected schedule 'nightly' to have exactly one of `cron` and `rate`, got both",
    ],
    [
      { ...base, cron: "cron(0 2 * * * *)" },
      "Expected the `cron` of schedule 'nightly' to have `?` in exactly one of its day-of-month and day-of-week fields, as EventBridge requires, got `cron(0 2 * * * *)`",
    ],
    [
      { ...base, cron: "cron(0 25 * * ? *)" },
      "Expected the `cron` of schedule 'nightly' to be a valid EventBridge cron expression, got `cron(0 25 * * ? *)`: Invalid value for hour: 25",
    ],
    [
      { ...base, cron: "0 2 1 * 1" },
      /^Expected the `cron` of schedule 'nightly' to restrict one of its day fields, not both/,
    ],
    [
      { ...base, cron: "0 2 * *" },
      "Expected the `cron` of schedule 'nightly' to be EventBridge's cron(minutes hours day-of-month month day-of-week year) or a Unix cron of five fields, got `0 2 * *` (4 fields)",
    ],
    [
      { ...base, rate: "30 seconds" },
      "Expected the `rate` of schedule 'nightly' to be rate(<n> minutes|hours|days) with n a whole number >= 1, got `30 seconds`: EventBridge Scheduler's finest rate is a minute (seconds run on the local environment only)",
    ],
    [
      { ...base, rate: "0 minutes" },
      "Expected the `rate` of schedule 'nightly' to be rate(<n> minutes|hours|days) with n a whole number >= 1, got `0 minutes`",
    ],
    [
      { ...base, rate: "1 hour", timezone: "Mars/Olympus" },
      'Expected the `timezone` of schedule \'nightly\' to be an IANA time zone such as "Europe/Paris" or "UTC", got `Mars/Olympus`',
    ],
    [
      { ...base, rate: "1 hour", timezone: "+01:00" },
      /^Expected the `timezone` of schedule 'nightly' to be an IANA time zone/,
    ],
    [
      { ...base, rate: "1 hour", params: { at: new Date(0) } },
      "Expected the `params` of schedule 'nightly' to be JSON (null, booleans, finite numbers, strings, arrays and plain objects), got a Date at `.at`",
    ],
    [{ ...base, rate: "1 hour", params: [1, Number.NaN] }, /got NaN at `\[1\]`$/],
    [
      { ...base, rate: "1 hour", params: "x".repeat(256 * 1024) },
      /^Expected the input of schedule 'nightly' to be at most 262144 bytes \(EventBridge Scheduler's limit\), got 262\d{3}/,
    ],
  ])("refuses %j", (schedule, message) => {
    expect(refused(schedule)).toThrow(message);
  });

  it("refuses a name given twice", () => {
    expect(refused({ ...base, rate: "2 hours" }, [{ ...base, rate: "1 hour" }])).toThrow(
      "Expected schedule names to be unique, got 'nightly' twice",
    );
  });
});
