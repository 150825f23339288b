// A proxy in front of the emulator that answers as S3 answers a principal without s3:ListBucket:
// 403 AccessDenied, not 404, for a key that does not exist. Everything else passes through.
import { createServer, request as forward } from "node:http";
import type { AddressInfo } from "node:net";

export async function startNoListProxy(
  upstream: string,
): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const target = new URL(upstream);
  const server = createServer((incoming, answer) => {
    const outgoing = forward(
      {
        host: target.hostname,
        port: target.port,
        method: incoming.method,
        path: incoming.url,
        headers: { ...incoming.headers, host: target.host },
      },
      (reply) => {
        const s3Read =
          (incoming.method === "GET" || incoming.method === "HEAD") && !incoming.headers["x-amz-target"];
        if (s3Read && reply.statusCode === 404) {
          reply.resume();
          const body =
            '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>';
          answer.writeHead(403, {
            "content-type": "application/xml",
            "content-length": Buffer.byteLength(body),
          });
          answer.end(incoming.method === "HEAD" ? undefined : body);
          return;
        }
        answer.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.pipe(answer);
      },
    );
    outgoing.on("error", () => answer.destroy());
    incoming.pipe(outgoing);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
