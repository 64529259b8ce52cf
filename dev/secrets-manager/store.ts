// Secrets Manager's state: secrets, their versions and labels, and the rules for changing them.
import { randomInt, randomUUID } from "node:crypto";
import { ServiceError } from "../aws-json/wire.ts";

export const ACCOUNT_ID = "000000000000";
export const CURRENT = "AWSCURRENT";
export const PREVIOUS = "AWSPREVIOUS";

const DAY_MS = 86_400_000;
const ARN_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const SECRET_NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
const NOT_FOUND = "Secrets Manager can't find the specified secret.";
const MARKED_FOR_DELETION =
  "You can't perform this operation on the secret because it was marked for deletion.";

/** Named as on the wire so it spreads into responses; SecretBinary stays base64 throughout. */
export type SecretPayload = { SecretString: string } | { SecretBinary: string };

export interface NewVersion {
  payload: SecretPayload;
  /** ClientRequestToken: becomes the VersionId and makes a retry idempotent. */
  token: string | undefined;
  /** Default AWSCURRENT. */
  stages: readonly string[] | undefined;
}

export interface NameFilter {
  /** Prefixes, case-sensitive as AWS; "!" in front negates. */
  values: readonly string[];
}

export interface ListQuery {
  includeDeleted: boolean;
  nameFilters: readonly NameFilter[];
  maxResults: number;
  nextToken: string | undefined;
}

type Response = Record<string, unknown>;

interface SecretVersion {
  readonly id: string;
  readonly payload: SecretPayload;
  readonly createdAt: number;
  readonly stages: Set<string>;
}

interface StoredSecret {
  readonly arn: string;
  readonly name: string;
  description: string | undefined;
  readonly createdAt: number;
  lastChangedAt: number;
  /** AWS keeps only the day of the last read. */
  lastAccessedAt: number | undefined;
  /** When DeleteSecret scheduled the deletion; undefined while the secret is live. */
  deletedAt: number | undefined;
  /** In creation order. */
  readonly versions: Map<string, SecretVersion>;
}

/** Responses carry dates as epoch seconds. */
function epochSeconds(ms: number): number {
  return ms / 1000;
}

function samePayload(a: SecretPayload, b: SecretPayload): boolean {
  if ("SecretString" in a) return "SecretString" in b && a.SecretString === b.SecretString;
  return "SecretBinary" in b && a.SecretBinary === b.SecretBinary;
}

function arnSuffix(): string {
  let suffix = "";
  for (let i = 0; i < 6; i += 1)
    suffix += ARN_SUFFIX_ALPHABET[randomInt(ARN_SUFFIX_ALPHABET.length)];
  return suffix;
}

function stagesByVersion(secret: StoredSecret): Record<string, string[]> {
  const stages: Record<string, string[]> = {};
  // Versions without a label are deprecated, and AWS leaves them out of this map.
  for (const version of secret.versions.values()) {
    if (version.stages.size > 0) stages[version.id] = [...version.stages];
  }
  return stages;
}

function matchesNameFilter(name: string, filter: NameFilter): boolean {
  const wanted = filter.values.filter((value) => !value.startsWith("!"));
  const excluded = filter.values.filter((value) => value.startsWith("!")).map((v) => v.slice(1));
  if (excluded.some((prefix) => name.startsWith(prefix))) return false;
  return wanted.length === 0 || wanted.some((prefix) => name.startsWith(prefix));
}

/** The secrets, their versions and staging labels, with Secrets Manager's rules for each change. */
export class SecretStore {
  readonly #region: string;
  readonly #secrets = new Map<string, StoredSecret>();

  constructor(region: string) {
    this.#region = region;
  }

  create(
    name: string,
    request: {
      payload: SecretPayload | undefined;
      description: string | undefined;
      token: string | undefined;
    },
  ): Response {
    if (!SECRET_NAME.test(name)) {
      throw new ServiceError(
        "InvalidParameterException",
        "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!",
      );
    }
    const existing = this.#secrets.get(name);
    if (existing?.deletedAt !== undefined) {
      throw new ServiceError(
        "InvalidRequestException",
        "You can't create this secret because a secret with this name is already scheduled for deletion.",
      );
    }
    if (existing !== undefined) {
      // A retry of a create that succeeded (same token, same value) is answered, not refused.
      const retried =
        request.token === undefined ? undefined : existing.versions.get(request.token);
      if (
        retried !== undefined &&
        request.payload !== undefined &&
        samePayload(retried.payload, request.payload)
      ) {
        return { ARN: existing.arn, Name: existing.name, VersionId: retried.id };
      }
      throw new ServiceError(
        "ResourceExistsException",
        `The operation failed because the secret ${name} already exists.`,
      );
    }
    const now = Date.now();
    const secret: StoredSecret = {
      arn: `arn:aws:secretsmanager:${this.#region}:${ACCOUNT_ID}:secret:${name}-${arnSuffix()}`,
      name,
      description: request.description,
      createdAt: now,
      lastChangedAt: now,
      lastAccessedAt: undefined,
      deletedAt: undefined,
      versions: new Map(),
    };
    this.#secrets.set(name, secret);
    if (request.payload === undefined) return { ARN: secret.arn, Name: name };
    const version = this.#addVersion(secret, {
      payload: request.payload,
      token: request.token,
      stages: undefined,
    });
    return { ARN: secret.arn, Name: name, VersionId: version.id };
  }

  getValue(secretId: string, versionId: string | undefined, stage: string | undefined): Response {
    const secret = this.#live(secretId);
    const version = this.#version(
      secret,
      versionId,
      stage ?? (versionId === undefined ? CURRENT : undefined),
    );
    const now = Date.now();
    secret.lastAccessedAt = now - (now % DAY_MS);
    return {
      ARN: secret.arn,
      Name: secret.name,
      VersionId: version.id,
      ...version.payload,
      VersionStages: [...version.stages],
      CreatedDate: epochSeconds(version.createdAt),
    };
  }

  putValue(secretId: string, request: NewVersion): Response {
    const secret = this.#live(secretId);
    const version = this.#addVersion(secret, request);
    return {
      ARN: secret.arn,
      Name: secret.name,
      VersionId: version.id,
      VersionStages: [...version.stages],
    };
  }

  update(
    secretId: string,
    request: { description: string | undefined; version: NewVersion | undefined },
  ): Response {
    const secret = this.#live(secretId);
    if (request.description !== undefined) {
      secret.description = request.description;
      secret.lastChangedAt = Date.now();
    }
    if (request.version === undefined) return { ARN: secret.arn, Name: secret.name };
    const version = this.#addVersion(secret, request.version);
    return { ARN: secret.arn, Name: secret.name, VersionId: version.id };
  }

  describe(secretId: string): Response {
    const secret = this.#find(secretId);
    const { SecretVersionsToStages, ...entry } = this.#listEntry(secret);
    return { ...entry, VersionIdsToStages: SecretVersionsToStages };
  }

  list(query: ListQuery): Response {
    const matching = [...this.#secrets.values()].filter(
      (secret) =>
        (query.includeDeleted || secret.deletedAt === undefined) &&
        query.nameFilters.every((filter) => matchesNameFilter(secret.name, filter)),
    );
    const start = query.nextToken === undefined ? 0 : Number(query.nextToken);
    if (!Number.isInteger(start) || start < 0 || start > matching.length) {
      throw new ServiceError("InvalidNextTokenException", "The NextToken value is invalid.");
    }
    const end = start + query.maxResults;
    return {
      SecretList: matching.slice(start, end).map((secret) => this.#listEntry(secret)),
      ...(end < matching.length ? { NextToken: String(end) } : {}),
    };
  }

  delete(secretId: string, request: { force: boolean; recoveryWindowDays: number }): Response {
    const secret = this.#find(secretId);
    if (request.force) {
      this.#secrets.delete(secret.name);
      return { ARN: secret.arn, Name: secret.name, DeletionDate: epochSeconds(Date.now()) };
    }
    if (secret.deletedAt !== undefined) {
      throw new ServiceError("InvalidRequestException", MARKED_FOR_DELETION);
    }
    const now = Date.now();
    secret.deletedAt = now;
    secret.lastChangedAt = now;
    // DeletionDate is when the recovery window ends; DescribeSecret's DeletedDate, when it began.
    const deletionDate = now + request.recoveryWindowDays * DAY_MS;
    return { ARN: secret.arn, Name: secret.name, DeletionDate: epochSeconds(deletionDate) };
  }

  /** Creates the secret, or adds a version that becomes AWSCURRENT; returns the ARN. */
  seed(name: string, value: string): string {
    const existing = this.#secrets.get(name);
    const payload = { SecretString: value };
    if (existing === undefined) {
      this.create(name, { payload, description: undefined, token: undefined });
    } else {
      this.putValue(name, { payload, token: undefined, stages: undefined });
    }
    return this.#find(name).arn;
  }

  /** The AWSCURRENT SecretString, if there is one; the secret may be scheduled for deletion. */
  currentString(secretId: string): string | undefined {
    const secret = this.#lookUp(secretId);
    const current = secret && [...secret.versions.values()].find((v) => v.stages.has(CURRENT));
    return current !== undefined && "SecretString" in current.payload
      ? current.payload.SecretString
      : undefined;
  }

  versionCount(secretId: string): number {
    return this.#lookUp(secretId)?.versions.size ?? 0;
  }

  #lookUp(secretId: string): StoredSecret | undefined {
    if (!secretId.startsWith("arn:")) return this.#secrets.get(secretId);
    return [...this.#secrets.values()].find((secret) => secret.arn === secretId);
  }

  #find(secretId: string): StoredSecret {
    const secret = this.#lookUp(secretId);
    if (secret === undefined) throw new ServiceError("ResourceNotFoundException", NOT_FOUND);
    return secret;
  }

  /** A secret scheduled for deletion can be described, listed and deleted, nothing else. */
  #live(secretId: string): StoredSecret {
    const secret = this.#find(secretId);
    if (secret.deletedAt !== undefined) {
      throw new ServiceError("InvalidRequestException", MARKED_FOR_DELETION);
    }
    return secret;
  }

  #version(
    secret: StoredSecret,
    versionId: string | undefined,
    stage: string | undefined,
  ): SecretVersion {
    const version =
      versionId === undefined
        ? [...secret.versions.values()].find(
            (candidate) => stage !== undefined && candidate.stages.has(stage),
          )
        : secret.versions.get(versionId);
    if (version === undefined || (stage !== undefined && !version.stages.has(stage))) {
      const wanted =
        versionId === undefined ? `staging label: ${stage}` : `VersionId: ${versionId}`;
      throw new ServiceError(
        "ResourceNotFoundException",
        `Secrets Manager can't find the specified secret value for ${wanted}`,
      );
    }
    return version;
  }

  #addVersion(secret: StoredSecret, request: NewVersion): SecretVersion {
    const id = request.token ?? randomUUID();
    const existing = secret.versions.get(id);
    if (existing !== undefined) {
      // The same token again is a retry: ignored if the value matches, refused if it does not.
      if (samePayload(existing.payload, request.payload)) return existing;
      throw new ServiceError(
        "ResourceExistsException",
        "You can't modify an existing version, you can only create a new version.",
      );
    }
    const version: SecretVersion = {
      id,
      payload: request.payload,
      createdAt: Date.now(),
      stages: new Set(),
    };
    secret.versions.set(id, version);
    for (const stage of request.stages ?? [CURRENT]) this.#moveStage(secret, version, stage);
    secret.lastChangedAt = version.createdAt;
    return version;
  }

  /** A label is on one version at most; the version losing AWSCURRENT takes AWSPREVIOUS. */
  #moveStage(secret: StoredSecret, target: SecretVersion, stage: string): void {
    const holder = [...secret.versions.values()].find((version) => version.stages.has(stage));
    if (holder === target) return;
    target.stages.add(stage);
    if (holder === undefined) return;
    holder.stages.delete(stage);
    if (stage !== CURRENT) return;
    for (const version of secret.versions.values()) version.stages.delete(PREVIOUS);
    holder.stages.add(PREVIOUS);
  }

  #listEntry(
    secret: StoredSecret,
  ): Response & { SecretVersionsToStages: Record<string, string[]> } {
    return {
      ARN: secret.arn,
      Name: secret.name,
      ...(secret.description === undefined ? {} : { Description: secret.description }),
      CreatedDate: epochSeconds(secret.createdAt),
      LastChangedDate: epochSeconds(secret.lastChangedAt),
      ...(secret.lastAccessedAt === undefined
        ? {}
        : { LastAccessedDate: epochSeconds(secret.lastAccessedAt) }),
      ...(secret.deletedAt === undefined ? {} : { DeletedDate: epochSeconds(secret.deletedAt) }),
      SecretVersionsToStages: stagesByVersion(secret),
    };
  }
}
