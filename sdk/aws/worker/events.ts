/** An SQS event as Lambda delivers it (the fields this worker reads). */
export interface SqsEvent {
  readonly Records: readonly {
    readonly messageId: string;
    /** Lambda gives it; with it, a worker can delete what it handled before the batch ends. */
    readonly receiptHandle?: string;
    readonly body: string;
    readonly attributes?: { readonly ApproximateReceiveCount?: string; readonly SenderId?: string };
  }[];
}

/** One message of an SQS event. */
export type SqsItem = SqsEvent["Records"][number];

/** Lambda's partial batch response: the records to deliver again. */
export interface BatchResponse {
  readonly batchItemFailures: { readonly itemIdentifier: string }[];
}

/** What Lambda tells a handler of its invocation (the part this worker reads). */
export interface InvocationContext {
  /** Milliseconds left before Lambda ends the invocation. */
  getRemainingTimeInMillis?(): number;
}
