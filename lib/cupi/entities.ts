import { asList, type CupiRecord, flag, integer, parseDocument, text } from "./body.ts";
import type { AuthenticationRule, CredentialState, CupiUser } from "./types.ts";

/** A body that does not have the expected shape; the caller turns it into a `client-bug` error. */
export class UnexpectedBodyError extends Error {
  override readonly name = "UnexpectedBodyError";
}

export interface UserList {
  readonly total: number;
  readonly users: CupiUser[];
}

export function parseUserList(body: string): UserList {
  const document = requireDocument(body, "Users");
  const users = asList(document.User).map(toUser);
  const total = integer(document, "@total") ?? users.length;
  return { total, users };
}

export function parseUser(body: string): CupiUser {
  return toUser(requireDocument(body, "User"));
}

/** The alternate extensions' DTMF numbers (a PIN may not contain them either). */
export function parseAlternateExtensions(body: string): string[] {
  const document = requireDocument(body, "AlternateExtensions");
  return asList(document.AlternateExtension)
    .map((extension) => nonEmpty(text(extension, "DtmfAccessId")))
    .filter((extension) => extension !== undefined);
}

export function parseCredential(body: string): CredentialState {
  const credential = requireDocument(body, "Credential");
  return {
    cantChange: flag(credential, "CantChange") ?? false,
    credMustChange: flag(credential, "CredMustChange") ?? false,
    doesntExpire: flag(credential, "DoesntExpire") ?? false,
    locked: flag(credential, "Locked") ?? false,
    hacked: flag(credential, "Hacked") ?? false,
    hackCount: integer(credential, "HackCount") ?? 0,
    timeHacked: nonEmpty(text(credential, "TimeHacked")),
    credentialPolicyObjectId: nonEmpty(text(credential, "CredentialPolicyObjectId")),
    timeChanged: nonEmpty(text(credential, "TimeChanged")),
  };
}

export function parseAuthenticationRule(body: string): AuthenticationRule {
  const rule = requireDocument(body, "AuthenticationRule");
  return {
    objectId: required(rule, "ObjectId"),
    minLength: integer(rule, "MinLength"),
    prevCredCount: integer(rule, "PrevCredCount"),
    trivialCredChecking: flag(rule, "TrivialCredChecking"),
    maxHacks: integer(rule, "MaxHacks"),
    maxDays: integer(rule, "MaxDays"),
    minDuration: integer(rule, "MinDuration"),
  };
}

export function parseVersion(body: string): string {
  return required(requireDocument(body, "VersionInfo"), "version");
}

function toUser(user: CupiRecord): CupiUser {
  const ldapType = integer(user, "LdapType");
  return {
    objectId: required(user, "ObjectId").toLowerCase(),
    alias: required(user, "Alias"),
    dtmfAccessId: nonEmpty(text(user, "DtmfAccessId")),
    firstName: nonEmpty(text(user, "FirstName")),
    lastName: nonEmpty(text(user, "LastName")),
    ldapIntegrated: (ldapType ?? 0) !== 0,
    ...(ldapType === undefined ? { ldapTypeMissing: true } : {}),
  };
}

function requireDocument(body: string, rootElement: string): CupiRecord {
  const document = parseDocument(body, rootElement);
  if (document === undefined) {
    throw new UnexpectedBodyError(`expected a ${rootElement} document in XML or JSON`);
  }
  return document;
}

function required(record: CupiRecord, field: string): string {
  const value = nonEmpty(text(record, field));
  if (value === undefined) throw new UnexpectedBodyError(`the response has no ${field}`);
  return value;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}
