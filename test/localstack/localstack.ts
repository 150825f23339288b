// LocalStack in Docker, through testcontainers, set up so that the Lambda functions it starts
// reach it at an address known before they are created.
import { LocalstackContainer } from "@testcontainers/localstack";
import { getContainerRuntimeClient, Network } from "testcontainers";

/**
 * The last LocalStack image that runs without an auth token. With `LOCALSTACK_AUTH_TOKEN` set the
 * newest image is used; `LOCALSTACK_IMAGE` overrides either.
 */
export const LOCALSTACK_IMAGE =
  process.env.LOCALSTACK_IMAGE ??
  (process.env.LOCALSTACK_AUTH_TOKEN ? "localstack/localstack:latest" : "localstack/localstack:4.14");

const PORT = 4566;

/** How long the probe may wait for a Docker engine to answer. */
const PROBE_MS = 5_000;

/**
 * Why no Docker engine can be used here, or `undefined` when one answers. Quick where there is
 * none: testcontainers tries DOCKER_HOST, its own settings and the usual sockets, which fail at once.
 */
export async function whyNoDocker(): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => {
    timer = setTimeout(resolve, PROBE_MS, `no Docker engine answered within ${PROBE_MS / 1000} s`);
  });
  try {
    return await Promise.race([
      getContainerRuntimeClient().then(
        () => undefined,
        (error: Error) =>
          `no Docker engine answers (${error.message}; DOCKER_HOST is ${process.env.DOCKER_HOST ? `\`${process.env.DOCKER_HOST}\`` : "unset"})`,
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A running LocalStack: where this process reaches it, and where its Lambda functions do. */
export interface LocalStack {
  /** From this machine, e.g. `http://localhost:32768`. */
  readonly endpoint: string;
  /** From inside the Lambda containers LocalStack starts, e.g. `http://172.18.0.2:4566`. */
  readonly functionEndpoint: string;
  /** The Lambda architecture that runs natively on the Docker engine. */
  readonly architecture: "arm64" | "x86_64";
  stop(): Promise<void>;
}

/**
 * Starts LocalStack on a network of its own, with the Docker socket mounted so that it can start
 * Lambda containers, and tells it to attach those to the same network (`LAMBDA_DOCKER_NETWORK`).
 * A function then reaches LocalStack at its address on that network: what LocalStack itself
 * gives a function as LOCALSTACK_HOSTNAME and AWS_ENDPOINT_URL, but known before the function
 * is created, so that it can be the function's SQUALL_ENDPOINT.
 */
export async function startLocalStack(): Promise<LocalStack> {
  const client = await getContainerRuntimeClient();
  const network = await new Network().start();
  try {
    const token = process.env.LOCALSTACK_AUTH_TOKEN;
    const container = await new LocalstackContainer(LOCALSTACK_IMAGE)
      .withNetwork(network)
      .withBindMounts([
        { source: client.info.containerRuntime.remoteSocketPath, target: "/var/run/docker.sock" },
      ])
      .withEnvironment({
        LAMBDA_DOCKER_NETWORK: network.getName(),
        ...(token ? { LOCALSTACK_AUTH_TOKEN: token } : {}),
      })
      .start();
    const arch = client.info.containerRuntime.architecture;
    return {
      endpoint: container.getConnectionUri(),
      functionEndpoint: `http://${container.getIpAddress(network.getName())}:${PORT}`,
      architecture: arch === "aarch64" || arch === "arm64" ? "arm64" : "x86_64",
      async stop() {
        try {
          await container.stop();
        } finally {
          // Fails while a Lambda container is still attached; testcontainers' reaper removes both.
          await network.stop().catch(() => {});
        }
      },
    };
  } catch (error) {
    await network.stop().catch(() => {});
    throw error;
  }
}
