import { hostname } from "node:os";
import { threadId } from "node:worker_threads";

/**
 * How this worker names itself in its outcomes, for timelines by worker: on Lambda, its log
 * stream's name, which is its execution environment's and says where its logs are; elsewhere
 * the host, process and thread.
 */
export const WORKER_ID =
  process.env.AWS_LAMBDA_LOG_STREAM_NAME || `${hostname()} pid ${process.pid} thread ${threadId}`;
