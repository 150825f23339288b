import { describe, expect, it } from "vitest";
import { describeCall, type RequestLike } from "./aws-request.js";

const context = {
  accountId: "000000000000",
  defaultRegion: "us-east-1",
  stackArn: (name: string) => `arn:aws:cloudformation:us-east-1:000000000000:stack/${name}/id`,
};
const signed = (service: string, key = "AKIAEXAMPLE") => ({
  authorization: `AWS4-HMAC-SHA256 Credential=${key}/20260101/eu-west-1/${service}/aws4_request, SignedHeaders=host, Signature=00`,
});
const call = (request: Partial<RequestLike> & Pick<RequestLike, "url">) =>
  describeCall({ method: "GET", headers: {}, ...request }, context);

describe("what a request asks of AWS", () => {
  it("reads S3 operations as IAM actions on bucket and object ARNs, and who signed them", () => {
    const get = call({ url: "/b/runs/x%2Fy/log/0?x-id=GetObject", headers: signed("s3") });
    expect(get).toMatchObject({
      service: "s3",
      operation: "GetObject",
      accessKeyId: "AKIAEXAMPLE",
      region: "eu-west-1",
      bucket: "b",
      key: "runs/x/y/log/0",
      checks: [{ action: "s3:GetObject", resource: "arn:aws:s3:::b/runs/x/y/log/0" }],
    });
    const checks = (request: Partial<RequestLike> & Pick<RequestLike, "url">) =>
      call({ headers: signed("s3"), ...request }).checks;
    expect(checks({ method: "HEAD", url: "/b/k" })).toEqual([
      { action: "s3:GetObject", resource: "arn:aws:s3:::b/k" },
    ]);
    expect(checks({ method: "PUT", url: "/b/k" })).toEqual([
      { action: "s3:PutObject", resource: "arn:aws:s3:::b/k" },
    ]);
    expect(checks({ url: "/b?list-type=2&prefix=open%2F" })).toEqual([
      { action: "s3:ListBucket", resource: "arn:aws:s3:::b" },
    ]);
    expect(checks({ method: "HEAD", url: "/b" })).toEqual([
      { action: "s3:ListBucket", resource: "arn:aws:s3:::b" },
    ]);
    expect(checks({ method: "DELETE", url: "/b/open/x" })).toEqual([
      { action: "s3:DeleteObject", resource: "arn:aws:s3:::b/open/x" },
    ]);
    expect(
      checks({ method: "PUT", url: "/b/k2", headers: { ...signed("s3"), "x-amz-copy-source": "/b/k1" } }),
    ).toEqual([
      { action: "s3:PutObject", resource: "arn:aws:s3:::b/k2" },
      { action: "s3:GetObject", resource: "arn:aws:s3:::b/k1" },
    ]);
    expect(
      checks({
        method: "POST",
        url: "/b?delete",
        body: Buffer.from("<Delete><Object><Key>a&amp;b</Key></Object></Delete>"),
      }),
    ).toEqual([{ action: "s3:DeleteObject", resource: "arn:aws:s3:::b/a&b" }]);
    expect(checks({ method: "POST", url: "/b/k?uploads" })).toEqual([
      { action: "s3:PutObject", resource: "arn:aws:s3:::b/k" },
    ]);
    expect(
      call({ url: "/b/k?X-Amz-Credential=AKIAPRESIGNED%2F20260101%2Fus-east-1%2Fs3%2Faws4_request" })
        .accessKeyId,
    ).toBe("AKIAPRESIGNED");
  });

  it("reads SQS batch operations as the single actions IAM knows, on the queue's ARN", () => {
    const send = call({
      method: "POST",
      url: "/",
      headers: { ...signed("sqs"), "x-amz-target": "AmazonSQS.SendMessageBatch" },
      body: { QueueUrl: "http://sqs.us-east-1.localhost:1/000000000000/tasks", Entries: [] },
    });
    expect(send).toMatchObject({
      service: "sqs",
      operation: "SendMessageBatch",
      queueUrl: "http://sqs.us-east-1.localhost:1/000000000000/tasks",
      checks: [{ action: "sqs:SendMessage", resource: "arn:aws:sqs:eu-west-1:000000000000:tasks" }],
    });
    const create = call({
      method: "POST",
      url: "/",
      headers: { ...signed("sqs"), "x-amz-target": "AmazonSQS.CreateQueue" },
      body: { QueueName: "q" },
    });
    expect(create.checks).toEqual([
      { action: "sqs:CreateQueue", resource: "arn:aws:sqs:eu-west-1:000000000000:q" },
    ]);
  });

  it("reads Lambda's Invoke by name or ARN, and CloudFormation's DescribeStacks by stack", () => {
    for (const name of ["fn", "arn:aws:lambda:eu-west-1:000000000000:function:fn", "fn:$LATEST"]) {
      expect(
        call({
          method: "POST",
          url: `/2015-03-31/functions/${encodeURIComponent(name)}/invocations`,
          headers: signed("lambda"),
        }),
      ).toMatchObject({
        service: "lambda",
        operation: "Invoke",
        functionName: "fn",
        checks: [
          { action: "lambda:InvokeFunction", resource: "arn:aws:lambda:eu-west-1:000000000000:function:fn" },
        ],
      });
    }
    const describe = call({
      method: "POST",
      url: "/",
      headers: { ...signed("cloudformation"), "content-type": "application/x-www-form-urlencoded" },
      body: Buffer.from("Action=DescribeStacks&StackName=Squall&Version=2010-05-15"),
    });
    expect(describe).toMatchObject({
      service: "cloudformation",
      operation: "DescribeStacks",
      checks: [
        {
          action: "cloudformation:DescribeStacks",
          resource: "arn:aws:cloudformation:us-east-1:000000000000:stack/Squall/id",
        },
      ],
    });
  });
});
