// Runs the CUPI simulator standalone:
//   node dev/cupi-simulator/main.ts [--port 8443] [--http] [--users file]
import { readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createDevCertificates } from "../tls.ts";
import { DEMO_ACCOUNT } from "./demo-account.ts";
import { createCupiSimulator, type SimulatedUser } from "./index.ts";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "8443" },
    http: { type: "boolean", default: false },
    users: { type: "string", default: fileURLToPath(new URL("./users.json", import.meta.url)) },
  },
});

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`--port must be a TCP port number, not ${values.port}`);
  process.exit(2);
}
const users: SimulatedUser[] = JSON.parse(await readFile(values.users, "utf8"));

let caFile: string | undefined;
let tls: { key: string; cert: string } | undefined;
if (!values.http) {
  const certificates = await createDevCertificates();
  caFile = join(tmpdir(), "cupi-simulator-ca.pem");
  await writeFile(caFile, certificates.ca.cert);
  tls = certificates.server;
}

const simulator = await createCupiSimulator({
  users,
  account: DEMO_ACCOUNT,
  port,
  ...(tls === undefined ? {} : { tls }),
});

console.log(`CUPI simulator listening on ${simulator.url}/vmrest`);
console.log(`demo account: ${DEMO_ACCOUNT.username} / ${DEMO_ACCOUNT.password}`);
if (caFile !== undefined) console.log(`trust this CA for the client: ${caFile}`);
console.log(`${users.length} users from ${values.users}; Ctrl+C stops`);

process.once("SIGINT", () => {
  void simulator.close();
});
