import type { ClusterConfig } from "../config/config.ts";
import { CupiClient, type CupiClientOptions } from "../cupi/client.ts";
import { isPemCertificate } from "../cupi/transport.ts";
import { SecretNotFoundError, type SecretStore } from "../secrets/secret-store.ts";
import { SecretValue } from "../secrets/secret-value.ts";

/** The service-account secret's content: `{"username","password","caCertificate"?}`. */
interface ServiceAccount {
  readonly username: string;
  readonly password: SecretValue;
  readonly caCertificate: string | undefined;
}

export class ServiceAccountError extends Error {
  override readonly name = "ServiceAccountError";
}

export type ClientSettings = Omit<CupiClientOptions, "baseUrl" | "account" | "caCertificate">;

interface Connection {
  readonly client: CupiClient;
  readonly caCertificate: string | undefined;
  username: string;
  password: SecretValue;
}

/**
 * One CUPI client per cluster for the life of the container, so sessions, connections and the
 * throttle are shared by every record. The service account comes from its secret (cached a few
 * minutes); a rotated password is picked up without dropping the client.
 */
export class CupiConnections {
  readonly #secrets: SecretStore;
  readonly #settings: ClientSettings;
  readonly #connections = new Map<string, Connection>();
  readonly #queues = new Map<string, Promise<void>>();

  constructor(secrets: SecretStore, settings: ClientSettings) {
    this.#secrets = secrets;
    this.#settings = settings;
  }

  /** The client for a cluster; `refresh` re-reads the service account, skipping the cache. */
  client(cluster: ClusterConfig, refresh = false): Promise<CupiClient> {
    // One at a time per cluster: concurrent first records must share one client, not race.
    const previous = this.#queues.get(cluster.name) ?? Promise.resolve();
    const next = previous.then(() => this.#resolve(cluster, refresh));
    this.#queues.set(
      cluster.name,
      next.then(
        () => undefined,
        () => undefined,
      ),
    );
    return next;
  }

  async #resolve(cluster: ClusterConfig, refresh: boolean): Promise<CupiClient> {
    const secret = await this.#secrets.cached(cluster.secretId, refresh).catch((error: unknown) => {
      if (error instanceof SecretNotFoundError) throw new ServiceAccountError(error.message);
      throw error;
    });
    const account = parseServiceAccount(cluster.secretId, secret);
    const existing = this.#connections.get(cluster.name);
    if (existing !== undefined && existing.caCertificate === account.caCertificate) {
      const rotated =
        existing.username !== account.username ||
        existing.password.reveal() !== account.password.reveal();
      if (rotated) {
        existing.client.updateAccount(account);
        existing.username = account.username;
        existing.password = account.password;
      }
      return existing.client;
    }
    await existing?.client.close();
    const client = new CupiClient({
      ...this.#settings,
      baseUrl: cluster.baseUrl,
      account,
      ...(account.caCertificate === undefined ? {} : { caCertificate: account.caCertificate }),
    });
    this.#connections.set(cluster.name, {
      client,
      caCertificate: account.caCertificate,
      username: account.username,
      password: account.password,
    });
    return client;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#connections.values()].map(({ client }) => client.close()));
    this.#connections.clear();
  }
}

function parseServiceAccount(secretId: string, secret: SecretValue): ServiceAccount {
  let document: unknown;
  try {
    document = JSON.parse(secret.reveal());
  } catch {
    throw new ServiceAccountError(`service-account secret ${secretId} is not JSON`);
  }
  const { username, password, caCertificate } = (document ?? {}) as Record<string, unknown>;
  if (typeof username !== "string" || username === "" || typeof password !== "string") {
    throw new ServiceAccountError(
      `service-account secret ${secretId} needs string "username" and "password"`,
    );
  }
  // HTTP Basic cannot carry a colon in the user name.
  if (username.includes(":")) {
    throw new ServiceAccountError(
      `service-account secret ${secretId}: "username" must not contain a colon`,
    );
  }
  if (caCertificate !== undefined && !isPemCertificate(caCertificate)) {
    throw new ServiceAccountError(
      `service-account secret ${secretId}: "caCertificate" is not a PEM certificate (-----BEGIN CERTIFICATE----- …); omit it to trust only public CAs`,
    );
  }
  return { username, password: new SecretValue(password), caCertificate };
}
