import { readFileSync } from "node:fs";
import * as v from "valibot";
import defaultPolicyDocument from "../../config/authorization-policy.json" with { type: "json" };
import { ConfigurationError } from "../config/config.ts";
import { isAlias, isObjectId } from "../cupi/identifiers.ts";
import { ACTIONS, type Action } from "../events/contract.ts";
import { ALIAS_PATTERN_RULE, AliasPattern, isAliasPattern } from "./alias-pattern.ts";

/** The event contract's `source` grammar: a name no event can carry is a typo in the policy. */
const SOURCE = /^[A-Za-z0-9._:-]{1,64}$/;

const isJsonObject = (value: unknown): boolean =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** Messages of a closed object: an unknown field is named, as a misspelt one would be ignored. */
const closedObject =
  (shape: string) =>
  (issue: v.BaseIssue<unknown>): string =>
    issue.expected === "never"
      ? "is not a field of the authorization policy"
      : issue.received === "undefined"
        ? "is required"
        : `must be ${shape}`;

const listOf = (rule: (value: string) => boolean, message: string) =>
  v.optional(
    v.array(v.pipe(v.string("must be a string"), v.check(rule, message)), "must be an array"),
    [],
  );

const PROTECTED_ACCOUNTS_SHAPE = '{ "aliases"?, "objectIds"?, "patterns"? }';

/**
 * The most a source's budget may be: each change of the rolling hour is kept (as a 16-character
 * digest of its eventId) in the state table, in items of at most 400 kB.
 */
export const MAX_CHANGES_PER_HOUR = 10_000;
/** A user's credentials may change this often in an hour unless the policy says otherwise. */
export const DEFAULT_USER_CHANGES_PER_HOUR = 5;
export const MAX_USER_CHANGES_PER_HOUR = 100;

const perHour = (most: number) =>
  v.strictObject(
    {
      perHour: v.pipe(
        v.number("must be a number"),
        v.integer("must be a whole number"),
        v.minValue(1, "must be at least 1 (leave the source out of the policy to refuse it)"),
        v.maxValue(most, `must be at most ${most}`),
      ),
    },
    closedObject('{ "perHour" }'),
  );

const policySchema = v.strictObject(
  {
    version: v.literal(1, "must be 1"),
    sources: v.pipe(
      v.unknown(),
      v.check(isJsonObject, "must map each source to the actions it may request"),
      v.record(
        v.pipe(
          v.string(),
          v.regex(SOURCE, "is not a source name: 1-64 of A-Z a-z 0-9 . _ : - (as in events)"),
        ),
        v.pipe(
          v.array(
            v.picklist(ACTIONS, `must be one of ${ACTIONS.join(", ")}`),
            "must be an array of actions",
          ),
          v.minLength(1, "must list at least one action (leave the source out to refuse it)"),
        ),
      ),
    ),
    protectedAccounts: v.pipe(
      v.unknown(),
      v.check(isJsonObject, `must be ${PROTECTED_ACCOUNTS_SHAPE}`),
      v.strictObject(
        {
          aliases: listOf(
            isAlias,
            "must be an alias: 1-64 letters, digits or . _ - @, starting with a letter or digit",
          ),
          objectIds: listOf(isObjectId, "must be a 36-character GUID"),
          patterns: listOf(isAliasPattern, ALIAS_PATTERN_RULE),
        },
        closedObject(PROTECTED_ACCOUNTS_SHAPE),
      ),
    ),
    // Each source's budget of changes per rolling hour; a source left out has none.
    limits: v.optional(
      v.pipe(
        v.unknown(),
        v.check(isJsonObject, 'must map sources to { "perHour" }'),
        v.record(v.string(), perHour(MAX_CHANGES_PER_HOUR)),
      ),
      {},
    ),
    // How often one user's credentials may change in an hour, whatever the source.
    userLimit: v.optional(perHour(MAX_USER_CHANGES_PER_HOUR), {
      perHour: DEFAULT_USER_CHANGES_PER_HOUR,
    }),
  },
  closedObject('{ "version": 1, "sources", "protectedAccounts", "limits"?, "userLimit"? }'),
);

type PolicyDocument = v.InferOutput<typeof policySchema>;

/** An account as far as it is known: the event's alias or objectId, or the user CUPI returned. */
export interface AccountRef {
  readonly alias?: string | undefined;
  readonly objectId?: string | undefined;
}

/**
 * Who may ask for what, and which accounts are never changed. Both questions answer with the
 * reason for a refusal (for the DLQ's errorMessage and the audit record), or undefined.
 */
export class AuthorizationPolicy {
  readonly #actionsBySource: ReadonlyMap<string, ReadonlySet<Action>>;
  readonly #protectedAliases: ReadonlySet<string>;
  readonly #protectedObjectIds: ReadonlySet<string>;
  readonly #protectedPatterns: readonly AliasPattern[];
  readonly #budgets: ReadonlyMap<string, number>;
  /** How often one user's credentials may change in an hour (userLimit.perHour). */
  readonly userChangesPerHour: number;

  constructor(document: PolicyDocument) {
    this.#actionsBySource = new Map(
      Object.entries(document.sources).map(([source, actions]) => [source, new Set(actions)]),
    );
    const accounts = document.protectedAccounts;
    this.#protectedAliases = new Set(accounts.aliases.map((alias) => alias.toLowerCase()));
    this.#protectedObjectIds = new Set(accounts.objectIds.map((id) => id.toLowerCase()));
    this.#protectedPatterns = accounts.patterns.map((pattern) => new AliasPattern(pattern));
    this.#budgets = new Map(
      Object.entries(document.limits ?? {}).map(([source, limit]) => [source, limit.perHour]),
    );
    this.userChangesPerHour = document.userLimit?.perHour ?? DEFAULT_USER_CHANGES_PER_HOUR;
  }

  /** The source's budget of changes per rolling hour (limits.<source>.perHour), if it has one. */
  budgetOf(source: string): number | undefined {
    return this.#budgets.get(source);
  }

  /** Sources are matched exactly: they are identifiers, not names people type. */
  refusalForSource(source: string, action: Action): string | undefined {
    const allowed = this.#actionsBySource.get(source);
    if (allowed === undefined) {
      return `source ${source} is not in the authorization policy: it may request nothing`;
    }
    if (allowed.has(action)) return undefined;
    return `source ${source} may not request ${action} (the authorization policy allows it: ${[...allowed].join(", ")})`;
  }

  /**
   * Whether the account is protected: by alias (any case), objectId, pattern, or because it is
   * `serviceAccount`, the CUPI account this function signs in with.
   */
  refusalForAccount(account: AccountRef, serviceAccount: string): string | undefined {
    const { alias, objectId } = account;
    const named = [alias, objectId].filter((part) => part !== undefined).join(" ");
    if (alias !== undefined && alias.toLowerCase() === serviceAccount.toLowerCase()) {
      return `user ${named} is the CUPI service account this function signs in with`;
    }
    if (alias !== undefined && this.#protectedAliases.has(alias.toLowerCase())) {
      return `user ${named} is a protected account (protectedAccounts.aliases)`;
    }
    if (objectId !== undefined && this.#protectedObjectIds.has(objectId.toLowerCase())) {
      return `user ${named} is a protected account (protectedAccounts.objectIds)`;
    }
    const pattern =
      alias === undefined
        ? undefined
        : this.#protectedPatterns.find((candidate) => candidate.matches(alias));
    if (pattern !== undefined) {
      return `user ${named} is a protected account (protectedAccounts.patterns ${pattern.source})`;
    }
    return undefined;
  }
}

/** Checks a parsed policy document; `origin` says in errors where it came from. */
export function parseAuthorizationPolicy(document: unknown, origin: string): AuthorizationPolicy {
  if (!isJsonObject(document)) {
    throw new ConfigurationError(`authorization policy ${origin}: must be a JSON object`);
  }
  const result = v.safeParse(policySchema, document, { abortPipeEarly: true });
  if (!result.success) {
    const reasons = result.issues.map((issue) => {
      const path = v.getDotPath(issue);
      return path === null ? issue.message : `${path}: ${issue.message}`;
    });
    throw new ConfigurationError(`authorization policy ${origin}: ${reasons.join("; ")}`);
  }
  const unknownSources = Object.keys(result.output.limits ?? {}).filter(
    (source) => !Object.hasOwn(result.output.sources, source),
  );
  if (unknownSources.length > 0) {
    throw new ConfigurationError(
      `authorization policy ${origin}: limits.${unknownSources[0]}: is not a source of the policy (a budget for a source that may request nothing is a typo)`,
    );
  }
  return new AuthorizationPolicy(result.output);
}

/**
 * The policy file at `path` (AUTHORIZATION_POLICY_PATH), or the default built into the bundle
 * from config/authorization-policy.json. Read and checked once, at cold start: a bad file stops
 * the function there instead of refusing (or allowing) events one by one.
 */
export function loadAuthorizationPolicy(path: string | undefined): AuthorizationPolicy {
  if (path === undefined) {
    return parseAuthorizationPolicy(defaultPolicyDocument, "config/authorization-policy.json");
  }
  const origin = `AUTHORIZATION_POLICY_PATH=${path}`;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "unreadable";
    throw new ConfigurationError(`authorization policy ${origin}: cannot be read (${code})`);
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw new ConfigurationError(`authorization policy ${origin}: is not valid JSON`);
  }
  return parseAuthorizationPolicy(document, origin);
}
