// Runs the Secrets Manager stand-in standalone:
//   node dev/secrets-manager/main.ts [--port 4584] [--host 127.0.0.1] [--region us-east-1] [--seed file.json]
// The seed file maps names to values; a value that is not a string is stored as its JSON.
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { portArgument, serveUntilInterrupted } from "../aws-json/cli.ts";
import { startSecretsManagerStandIn } from "./index.ts";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "4584" },
    host: { type: "string", default: "127.0.0.1" },
    region: { type: "string", default: "us-east-1" },
    seed: { type: "string" },
  },
});

const port = portArgument(values.port);

async function readSeed(file: string): Promise<Record<string, string>> {
  const parsed: unknown = JSON.parse(await readFile(file, "utf8"));
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new Error(`${file} must hold a JSON object of secret name to value`);
  }
  return Object.fromEntries(
    Object.entries(parsed).map(([name, value]) => [
      name,
      typeof value === "string" ? value : JSON.stringify(value),
    ]),
  );
}

const secrets = values.seed === undefined ? {} : await readSeed(values.seed);
const standIn = await startSecretsManagerStandIn({
  host: values.host,
  port,
  region: values.region,
  secrets,
});

const seeded = Object.keys(secrets);
console.log(`Secrets Manager stand-in listening on ${standIn.url} (region ${values.region})`);
console.log(seeded.length === 0 ? "no secrets seeded" : `seeded: ${seeded.join(", ")}`);
serveUntilInterrupted(standIn, "AWS_ENDPOINT_URL_SECRETS_MANAGER", values.region);
