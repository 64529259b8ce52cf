import type { Server } from "node:net";

/**
 * Starts `server` on host:port (0 for an ephemeral port) and returns `host:port` as clients must
 * write it (IPv6 in brackets). A port already in use rejects instead of crashing the process.
 */
export async function listen(server: Server, host: string, port: number): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("not listening on TCP");
  const hostname = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return `${hostname}:${address.port}`;
}
