import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface StubServer {
  readonly url: string;
  readonly received: Array<{ method: string; url: string; body: string }>;
  close(): Promise<void>;
}

/**
 * A plain HTTP server answering with `respond`, for shapes the CUPI simulator has no reason to
 * produce (redirects, echoed values, odd statuses).
 */
export async function startStubServer(
  respond: (request: IncomingMessage, body: string, response: ServerResponse) => void,
): Promise<StubServer> {
  const received: StubServer["received"] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      received.push({ method: request.method ?? "", url: request.url ?? "", body });
      respond(request, body, response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
