import { SquallError } from "../errors.js";

/** The command line asks for something that cannot be done as given: one line saying why and how to fix it, exit 2. */
export class UsageError extends SquallError {}
