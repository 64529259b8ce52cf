import { createHash } from "node:crypto";
import {
  type CredentialPolicyContext,
  checkPassword,
  checkPin,
  type PolicyRule,
} from "../../lib/policy/index.ts";
import type { Fields } from "./wire.ts";

export type CredentialKind = "pin" | "password";

export interface SimulatedUser {
  /** 36-character lowercase GUID. */
  objectId: string;
  alias: string;
  firstName?: string;
  lastName?: string;
  /** Primary extension. */
  dtmfAccessId?: string;
  alternateExtensions?: string[];
  /** Non-zero: LDAP-integrated, so CUC holds no web password for the user. */
  ldapType?: number;
  /** Administrator roles the user holds; any at all puts the user out of a help desk's reach. */
  roles?: string[];
  pin?: string;
  password?: string;
  /** Authentication rules in force; default to the simulator's default PIN and password rules. */
  pinPolicyObjectId?: string;
  passwordPolicyObjectId?: string;
}

export interface SimulatedAuthenticationRule {
  objectId: string;
  minLength: number;
  /** How many previous credentials a new one may not repeat. */
  prevCredCount: number;
  trivialCredChecking: boolean;
  maxHacks: number;
  maxDays: number;
  minDuration: number;
}

export interface CredentialSnapshot {
  value: string | undefined;
  CantChange: boolean;
  CredMustChange: boolean;
  DoesntExpire: boolean;
  Locked: boolean;
  HackCount: number;
  TimeHacked: string;
  /** How many credentials the history remembers, the current one included. */
  history: number;
  /** Successful PUTs that set Credentials. */
  changes: number;
}

export interface HackedState {
  hackCount?: number;
  timeHacked?: string;
  locked?: boolean;
}

export type UpdateOutcome =
  | { status: 204 }
  | { status: 400 | 403 | 404; code: string; message: string };

export const DEFAULT_PIN_RULE_ID = "6f1c2a4e-8b3d-4e5f-9a70-000000000004";
export const DEFAULT_PASSWORD_RULE_ID = "6f1c2a4e-8b3d-4e5f-9a70-000000000003";

/** The example rules of Cisco's guide: PIN 6, password 8, history 5, trivial checking on. */
export const DEFAULT_RULES: readonly SimulatedAuthenticationRule[] = [
  {
    objectId: DEFAULT_PIN_RULE_ID,
    minLength: 6,
    prevCredCount: 5,
    trivialCredChecking: true,
    maxHacks: 3,
    maxDays: 180,
    minDuration: 1440,
  },
  {
    objectId: DEFAULT_PASSWORD_RULE_ID,
    minLength: 8,
    prevCredCount: 5,
    trivialCredChecking: true,
    maxHacks: 3,
    maxDays: 180,
    minDuration: 1440,
  },
];

/** CUPI's Credentials field is a String of up to 256 characters. */
const MAX_CREDENTIALS_LENGTH = 256;

const OBJECT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The policy module is this service's conservative reading of CUC's rules; only its trivial-value
 * rules stand in for TrivialCredChecking. Length and character set are CUC's own checks, below.
 */
const NOT_TRIVIALITY_RULES: ReadonlySet<PolicyRule> = new Set<PolicyRule>([
  "min-length",
  "max-length",
  "digits-only",
  "printable-ascii",
]);

const BOOLEAN_FIELDS = ["CantChange", "CredMustChange", "DoesntExpire", "Locked"] as const;
type BooleanField = (typeof BOOLEAN_FIELDS)[number];

const CREDENTIAL_TYPES: Record<CredentialKind, string> = { pin: "4", password: "3" };

interface CredentialState extends Record<BooleanField, boolean> {
  value: string | undefined;
  /** Most recent first, the current value included, at most the rule's PrevCredCount long. */
  recent: string[];
  HackCount: number;
  TimeHacked: string;
  TimeChanged: string;
  rule: SimulatedAuthenticationRule;
  changes: number;
}

/** CUPI's timestamp format, `YYYY-MM-DD HH:MM:SS.fff` (UTC here). */
export function cupiTimestamp(date: Date): string {
  return date.toISOString().replace("T", " ").slice(0, 23);
}

/** A GUID derived from the name, so the same seed always gives the same ObjectIds. */
function derivedObjectId(name: string): string {
  const hex = createHash("sha256").update(name).digest("hex");
  return [
    hex.slice(0, 8),
    hex.slice(8, 12),
    hex.slice(12, 16),
    hex.slice(16, 20),
    hex.slice(20, 32),
  ].join("-");
}

function invalidParameter(message: string): UpdateOutcome {
  return { status: 400, code: "INVALID_PARAMETER", message };
}

function policyRejection(message: string): UpdateOutcome {
  return { status: 400, code: "DATA_EXCEPTION", message };
}

function parseBoolean(text: string): boolean | undefined {
  const normalized = text.trim().toLowerCase();
  if (normalized === "true") return true;
  if (normalized === "false") return false;
  return undefined;
}

function policyContext(user: SimulatedUser, minLength: number): CredentialPolicyContext {
  const extensions = [
    ...(user.dtmfAccessId === undefined ? [] : [user.dtmfAccessId]),
    ...(user.alternateExtensions ?? []),
  ];
  return {
    minLength,
    alias: user.alias,
    extensions,
    ...(user.firstName === undefined ? {} : { firstName: user.firstName }),
    ...(user.lastName === undefined ? {} : { lastName: user.lastName }),
  };
}

/** Users, their PIN and password state, and the authentication rules, as CUC would hold them. */
export class Directory {
  readonly #users: SimulatedUser[];
  readonly #rules = new Map<string, SimulatedAuthenticationRule>();
  readonly #credentials = new Map<string, CredentialState>();

  constructor(
    users: readonly SimulatedUser[],
    rules: readonly SimulatedAuthenticationRule[],
    now: Date,
  ) {
    for (const rule of [...DEFAULT_RULES, ...rules]) this.#rules.set(rule.objectId, rule);
    this.#users = users.map((user) => structuredClone(user));
    for (const user of this.#users) {
      if (!OBJECT_ID.test(user.objectId)) {
        throw new Error(`user ${user.alias}: objectId must be a lowercase GUID`);
      }
      if (this.#credentials.has(credentialKey(user.objectId, "pin"))) {
        throw new Error(`user ${user.alias}: duplicate objectId ${user.objectId}`);
      }
      this.#seed(user, "pin", user.pin, user.pinPolicyObjectId ?? DEFAULT_PIN_RULE_ID, now);
      this.#seed(
        user,
        "password",
        user.password,
        user.passwordPolicyObjectId ?? DEFAULT_PASSWORD_RULE_ID,
        now,
      );
    }
  }

  /** An administrator edits a rule: every credential under it is held to the new one. */
  changeRule(objectId: string, changes: Partial<Omit<SimulatedAuthenticationRule, "objectId">>) {
    const rule = this.#rules.get(objectId);
    if (rule === undefined) throw new Error(`unknown authentication rule ${objectId}`);
    const changed = { ...rule, ...changes };
    this.#rules.set(objectId, changed);
    for (const state of this.#credentials.values()) {
      if (state.rule.objectId === objectId) state.rule = changed;
    }
  }

  #seed(
    user: SimulatedUser,
    kind: CredentialKind,
    value: string | undefined,
    policyObjectId: string,
    now: Date,
  ): void {
    const rule = this.#rules.get(policyObjectId);
    if (rule === undefined) {
      throw new Error(`user ${user.alias}: unknown authentication rule ${policyObjectId}`);
    }
    this.#credentials.set(credentialKey(user.objectId, kind), {
      value,
      recent: value === undefined ? [] : [value].slice(0, rule.prevCredCount),
      CantChange: false,
      CredMustChange: false,
      DoesntExpire: false,
      Locked: false,
      HackCount: 0,
      TimeHacked: "",
      TimeChanged: value === undefined ? "" : cupiTimestamp(now),
      rule,
      changes: 0,
    });
  }

  /** Users whose column equals (`is`) or starts with the value; CUC compares case-insensitively. */
  findUsers(
    column: "alias" | "objectid",
    operator: "is" | "startswith",
    value: string,
  ): SimulatedUser[] {
    const wanted = value.toLowerCase();
    return this.#users.filter((user) => {
      const actual = (column === "alias" ? user.alias : user.objectId).toLowerCase();
      return operator === "is" ? actual === wanted : actual.startsWith(wanted);
    });
  }

  user(objectId: string): SimulatedUser | undefined {
    return this.#users.find((user) => user.objectId === objectId);
  }

  userFields(user: SimulatedUser): Fields {
    const uri = `/vmrest/users/${user.objectId}`;
    return {
      URI: uri,
      ObjectId: user.objectId,
      Alias: user.alias,
      ...(user.firstName === undefined ? {} : { FirstName: user.firstName }),
      ...(user.lastName === undefined ? {} : { LastName: user.lastName }),
      ...(user.dtmfAccessId === undefined ? {} : { DtmfAccessId: user.dtmfAccessId }),
      LdapType: String(user.ldapType ?? 0),
      UserVoicePinURI: `${uri}/credential/pin`,
      UserWebPasswordURI: `${uri}/credential/password`,
    };
  }

  /** The user's alternate extensions, or undefined for an unknown user. */
  alternateExtensionFields(objectId: string): Fields[] | undefined {
    const user = this.user(objectId);
    if (user === undefined) return undefined;
    return (user.alternateExtensions ?? []).map((dtmfAccessId, index) => ({
      ObjectId: derivedObjectId(`${user.objectId}/alternateextensions/${index}`),
      DtmfAccessId: dtmfAccessId,
      // IdIndex 0 is the primary extension.
      IdIndex: String(index + 1),
    }));
  }

  credentialFields(objectId: string, kind: CredentialKind): Fields | undefined {
    const state = this.#credentials.get(credentialKey(objectId, kind));
    if (state === undefined) return undefined;
    return {
      // The secret itself never comes back.
      Credentials: "",
      CredentialType: CREDENTIAL_TYPES[kind],
      UserObjectId: objectId,
      CantChange: String(state.CantChange),
      CredMustChange: String(state.CredMustChange),
      DoesntExpire: String(state.DoesntExpire),
      Locked: String(state.Locked),
      // Cleared by the unlock recipe: HackCount 0 and an empty TimeHacked.
      Hacked: String(state.TimeHacked !== ""),
      HackCount: String(state.HackCount),
      TimeHacked: state.TimeHacked,
      CredentialPolicyObjectId: state.rule.objectId,
      TimeChanged: state.TimeChanged,
    };
  }

  ruleFields(objectId: string): Fields | undefined {
    const rule = this.#rules.get(objectId);
    if (rule === undefined) return undefined;
    return {
      ObjectId: rule.objectId,
      MinLength: String(rule.minLength),
      PrevCredCount: String(rule.prevCredCount),
      TrivialCredChecking: String(rule.trivialCredChecking),
      MaxHacks: String(rule.maxHacks),
      MaxDays: String(rule.maxDays),
      MinDuration: String(rule.minDuration),
    };
  }

  snapshot(objectId: string, kind: CredentialKind): CredentialSnapshot {
    const state = this.#state(objectId, kind);
    return {
      value: state.value,
      CantChange: state.CantChange,
      CredMustChange: state.CredMustChange,
      DoesntExpire: state.DoesntExpire,
      Locked: state.Locked,
      HackCount: state.HackCount,
      TimeHacked: state.TimeHacked,
      history: state.recent.length,
      changes: state.changes,
    };
  }

  setHackedState(objectId: string, kind: CredentialKind, hacked: HackedState): void {
    const state = this.#state(objectId, kind);
    if (hacked.hackCount !== undefined) state.HackCount = hacked.hackCount;
    if (hacked.timeHacked !== undefined) state.TimeHacked = hacked.timeHacked;
    if (hacked.locked !== undefined) state.Locked = hacked.locked;
  }

  /** A partial update, validated in full before anything changes; unknown fields are ignored. */
  update(objectId: string, kind: CredentialKind, fields: Fields, now: Date): UpdateOutcome {
    const user = this.user(objectId);
    const state = this.#credentials.get(credentialKey(objectId, kind));
    if (user === undefined || state === undefined) {
      return { status: 404, code: "NOT_FOUND", message: `User not found: ${objectId}` };
    }
    if ((user.roles ?? []).length > 0) {
      return { status: 403, code: "NOT_AUTHORIZED", message: "Not Authorized" };
    }

    const flags: Partial<Record<BooleanField, boolean>> = {};
    for (const field of BOOLEAN_FIELDS) {
      const text = fields[field];
      if (text === undefined) continue;
      const flag = parseBoolean(text);
      if (flag === undefined) return invalidParameter(`${field} must be true or false`);
      flags[field] = flag;
    }
    const hackCountText = fields.HackCount?.trim();
    if (hackCountText !== undefined && !/^\d+$/.test(hackCountText)) {
      return invalidParameter("HackCount must be a non-negative integer");
    }
    const newValue = fields.Credentials;
    if (newValue !== undefined) {
      const rejection = this.#rejectCredential(user, kind, state, newValue, fields);
      if (rejection !== undefined) return rejection;
    }

    Object.assign(state, flags);
    if (hackCountText !== undefined) state.HackCount = Number(hackCountText);
    if (fields.TimeHacked !== undefined) state.TimeHacked = fields.TimeHacked.trim();
    if (newValue !== undefined) {
      state.value = newValue;
      state.recent = [newValue, ...state.recent].slice(0, state.rule.prevCredCount);
      state.TimeChanged = cupiTimestamp(now);
      state.changes += 1;
    }
    return { status: 204 };
  }

  // Messages describe the rule broken and never quote the credential, which is a secret.
  #rejectCredential(
    user: SimulatedUser,
    kind: CredentialKind,
    state: CredentialState,
    value: string,
    fields: Fields,
  ): UpdateOutcome | undefined {
    if (fields.EncryptionType !== undefined) return invalidParameter("Invalid Credential");
    if (kind === "password" && (user.ldapType ?? 0) !== 0) {
      // (unconfirmed) CUC keeps no web password for LDAP-integrated users; a 400 is an assumption.
      return invalidParameter(
        "Invalid Credential: the web password of an LDAP-integrated user is managed in LDAP",
      );
    }
    if (value.length > MAX_CREDENTIALS_LENGTH) {
      return invalidParameter(`Credentials may be at most ${MAX_CREDENTIALS_LENGTH} characters`);
    }
    if (kind === "pin" && !/^\d*$/.test(value)) {
      return policyRejection("A PIN may contain digits only");
    }
    const { rule } = state;
    if (value.length < rule.minLength) {
      return policyRejection(
        kind === "pin"
          ? `The PIN must be at least ${rule.minLength} digits long`
          : `The password must be at least ${rule.minLength} characters long`,
      );
    }
    if (rule.trivialCredChecking) {
      const check = kind === "pin" ? checkPin : checkPassword;
      const trivial = check(value, policyContext(user, rule.minLength)).find(
        (violation) => !NOT_TRIVIALITY_RULES.has(violation.rule),
      );
      if (trivial !== undefined) {
        return policyRejection(`Trivial passwords or PINs are not allowed: ${trivial.message}`);
      }
    }
    if (state.recent.includes(value)) {
      return policyRejection("Repeat credentials prohibited by credential policy");
    }
    return undefined;
  }

  #state(objectId: string, kind: CredentialKind): CredentialState {
    const state = this.#credentials.get(credentialKey(objectId, kind));
    if (state === undefined) throw new Error(`no simulated user ${objectId}`);
    return state;
  }
}

function credentialKey(objectId: string, kind: CredentialKind): string {
  return `${objectId}/${kind}`;
}
