// Inside one of a stack's Lambda functions (the flow-runner), the runner's address is the
// function's own: its SQUALL_* variables, which the stack sets. Its role may not read
// CloudFormation and need not, so `{ stack }` naming its own stack means these variables; its
// role reaches no other stack's queues or bucket, so naming another stack is refused.
import { InvalidArgumentError } from "../errors.js";
import { ADDRESS_VARIABLES, addressFromEnv, type SquallAddress } from "./address.js";

/** The variable naming the stack a function belongs to; the stack sets it on the flow-runner. */
export const STACK_NAME_VARIABLE = "SQUALL_STACK_NAME";

/**
 * The address of the Lambda function this runs in, from its own variables: when it runs in one
 * (`AWS_LAMBDA_FUNCTION_NAME`) whose variables give a whole address, and `stack` is unset or names
 * the function's own stack (`SQUALL_STACK_NAME`). `undefined` outside Lambda, without a whole
 * address, or when `stack` is given and the function does not say which stack it is in (the
 * stack is then read as anywhere else). Throws when `stack` names another stack.
 */
export function ownFunctionAddress(
  stack: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): SquallAddress | undefined {
  const functionName = env.AWS_LAMBDA_FUNCTION_NAME;
  const required = [
    ADDRESS_VARIABLES.taskQueueUrl,
    ADDRESS_VARIABLES.completionQueueUrl,
    ADDRESS_VARIABLES.bucket,
  ];
  if (!functionName || !required.every((name) => env[name])) return undefined;
  const own = env[STACK_NAME_VARIABLE];
  if (stack !== undefined) {
    if (!own) return undefined;
    if (!namesStack(stack, own)) {
      throw new InvalidArgumentError(
        `LambdaTaskRunner({ stack: "${stack}" }) runs in Lambda function '${functionName}' of stack '${own}', which reaches only its own stack's queues and bucket. Name its own stack ("${own}") or leave \`stack\` out to run the tasks there; to run them on '${stack}', start the flow with that stack's flow-runner.`,
      );
    }
  }
  return addressFromEnv(env);
}

/** Whether `given` (a stack's name or id, as DescribeStacks takes either) is the stack named `own`. */
function namesStack(given: string, own: string): boolean {
  return given === own || given.includes(`:stack/${own}/`);
}
