import type { SecretValue } from "../secrets/secret-value.ts";

/** The two CUPI credential resources: the voicemail PIN (type 4) and the web password (type 3). */
export type CredentialKind = "pin" | "password";

/**
 * The writable fields of a CUPI Credential, under their exact CUPI names. A PUT is a partial update:
 * only the fields present are sent. `EncryptionType` is deliberately absent: CUPI refuses a
 * cleartext value that comes with one.
 */
export interface CredentialUpdate {
  readonly Credentials?: SecretValue;
  readonly CantChange?: boolean;
  readonly CredMustChange?: boolean;
  readonly DoesntExpire?: boolean;
  readonly Locked?: boolean;
  readonly HackCount?: number;
  /** An empty string clears the failed-sign-in time (the unlock recipe). */
  readonly TimeHacked?: string;
}

/** A credential as CUPI reports it; the secret itself always comes back empty. */
export interface CredentialState {
  readonly cantChange: boolean;
  readonly credMustChange: boolean;
  readonly doesntExpire: boolean;
  readonly locked: boolean;
  readonly hacked: boolean;
  readonly hackCount: number;
  readonly timeHacked: string | undefined;
  readonly credentialPolicyObjectId: string | undefined;
  readonly timeChanged: string | undefined;
}

export interface CupiUser {
  readonly objectId: string;
  readonly alias: string;
  /** The primary extension. */
  readonly dtmfAccessId: string | undefined;
  readonly firstName: string | undefined;
  readonly lastName: string | undefined;
  /** LDAP-integrated users have no web password of their own in CUC. */
  readonly ldapIntegrated: boolean;
  /** The answer had no LdapType (a user list may leave it out): `ldapIntegrated` is a guess. */
  readonly ldapTypeMissing?: true;
}

/** An authentication rule (credential policy), from `/vmrest/authenticationrules/{id}`. */
export interface AuthenticationRule {
  readonly objectId: string;
  readonly minLength: number | undefined;
  /** How many previous credentials may not be reused. */
  readonly prevCredCount: number | undefined;
  readonly trivialCredChecking: boolean | undefined;
  readonly maxHacks: number | undefined;
  readonly maxDays: number | undefined;
  readonly minDuration: number | undefined;
}

/** The CUPI service account (a Help Desk Administrator is enough for this job). */
export interface CupiAccount {
  readonly username: string;
  readonly password: SecretValue;
}
