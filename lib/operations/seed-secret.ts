// Writes the secret a reset event's newCredential names, {"pin": "…"} or {"password": "…"}, so
// that a first event can be tried without the aws CLI. The value is never printed, logged or put
// in an error message, and is taken from standard input only, never from the command line.
import type { Readable } from "node:stream";
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  type SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import type { ServiceConfig } from "../config/config.ts";
import type { CredentialKind } from "../cupi/types.ts";
import { secretName } from "../secrets/secret-name.ts";

export class SeedRefused extends Error {
  override readonly name = "SeedRefused";
}

export interface SeedRequest {
  readonly secretId: string;
  readonly kind: CredentialKind;
  readonly value: string;
}

/**
 * The shipped deployment's `resetSecretPrefix` (serverless.yml): seeding stays under it when the
 * shell sets no RESET_SECRET_PREFIX, so that no other secret (a service account) is overwritten.
 */
export const SHIPPED_RESET_SECRET_PREFIX = "cupi-reset/resets/";

/**
 * Refuses a name the reset function would not read a new value from (outside RESET_SECRET_PREFIX,
 * or the shipped one when unset), or must never be overwritten (a CUPI service-account secret).
 */
export function refuseSeedName(
  secretId: string,
  config: Pick<ServiceConfig, "resetSecretPrefix" | "serviceAccountSecretNames">,
): void {
  const name = secretName(secretId);
  if (config.serviceAccountSecretNames.has(name)) {
    throw new SeedRefused(`${name} is a CUPI service-account secret; it is never seeded`);
  }
  const prefix = config.resetSecretPrefix ?? SHIPPED_RESET_SECRET_PREFIX;
  if (!name.startsWith(prefix)) {
    throw new SeedRefused(
      `${name} does not start with ${config.resetSecretPrefix === undefined ? "the shipped resetSecretPrefix" : "RESET_SECRET_PREFIX"} (${prefix})`,
    );
  }
}

/** Creates the secret, or gives an existing one a new version; says which. */
export async function seedSecret(
  client: SecretsManagerClient,
  request: SeedRequest,
): Promise<"created" | "updated"> {
  if (request.value === "") throw new SeedRefused(`the ${request.kind} is empty`);
  if (request.kind === "pin" && !/^\d+$/.test(request.value)) {
    throw new SeedRefused("a PIN is digits only");
  }
  const secretString = JSON.stringify({ [request.kind]: request.value });
  try {
    await client.send(
      new CreateSecretCommand({ Name: request.secretId, SecretString: secretString }),
    );
    return "created";
  } catch (error) {
    if ((error as Error).name !== "ResourceExistsException") throw error;
  }
  await client.send(
    new PutSecretValueCommand({ SecretId: request.secretId, SecretString: secretString }),
  );
  return "updated";
}

/**
 * The value piped in: everything up to the end of input, less one final line break. A terminal
 * is refused: what is typed there would be shown.
 */
export async function readPipedValue(input: Readable & { isTTY?: boolean }): Promise<string> {
  if (input.isTTY) {
    throw new SeedRefused(
      "standard input is a terminal: pipe the value in, e.g. read -rs PIN; printf '%s' \"$PIN\" | cupi-reset seed-secret …",
    );
  }
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
}

/** What to tell the operator: where the value went and how an event points at it. */
export function describeSeeded(request: SeedRequest, outcome: "created" | "updated"): string {
  const pointer = JSON.stringify({ secretId: request.secretId, jsonKey: request.kind });
  return `${request.secretId}: ${outcome} (the ${request.kind} is not shown); an event takes it with "newCredential": ${pointer}`;
}
