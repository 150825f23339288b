// The repository's own deployment: one stack holding one Squall construct.
import { Stack, type StackProps } from "aws-cdk-lib";
import type { Construct } from "constructs";
import { Squall, type SquallProps } from "./squall.js";

export interface SquallStackProps extends StackProps, SquallProps {}

export class SquallStack extends Stack {
  readonly squall: Squall;

  constructor(scope: Construct, id: string, props: SquallStackProps) {
    super(scope, id, props);
    this.squall = new Squall(this, "Squall", props);
  }
}
