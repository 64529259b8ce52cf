import type { CredentialKind, CredentialUpdate } from "../cupi/types.ts";
import type { Action, CredentialSettings, ResetEvent } from "../events/contract.ts";
import type { SecretValue } from "../secrets/secret-value.ts";

/** One PUT to `/vmrest/users/{objectId}/credential/{kind}`. */
export interface CredentialChange {
  readonly kind: CredentialKind;
  readonly update: CredentialUpdate;
}

/** The credentials an action touches, in the order they are changed. */
export function credentialsOf(action: Action, ldapIntegrated: boolean): CredentialKind[] {
  switch (action) {
    case "reset-pin":
    case "update-pin-settings":
    case "unlock-pin":
      return ["pin"];
    case "reset-password":
    case "update-password-settings":
    case "unlock-password":
      return ["password"];
    case "offboard":
      // LDAP-integrated users have no web password in CUC: their directory owns it.
      return ldapIntegrated ? ["pin"] : ["pin", "password"];
  }
}

/** Whether the action needs a new value per credential (from a secret or the generator). */
export function needsNewValue(action: Action): boolean {
  return action === "reset-pin" || action === "reset-password" || action === "offboard";
}

/** The event's settings under CUPI's field names. */
export function settingsUpdate(settings: CredentialSettings | undefined): CredentialUpdate {
  return {
    ...(settings?.cantChange === undefined ? {} : { CantChange: settings.cantChange }),
    ...(settings?.mustChange === undefined ? {} : { CredMustChange: settings.mustChange }),
    ...(settings?.doesntExpire === undefined ? {} : { DoesntExpire: settings.doesntExpire }),
    ...(settings?.locked === undefined ? {} : { Locked: settings.locked }),
  };
}

/**
 * What to send to CUPI for an event, once the user is known and the new values are at hand. Pure:
 * the same input always gives the same PUTs.
 */
export function planChanges(
  event: ResetEvent,
  ldapIntegrated: boolean,
  newValues: ReadonlyMap<CredentialKind, SecretValue>,
): CredentialChange[] {
  return credentialsOf(event.action, ldapIntegrated).map((kind) => ({
    kind,
    update: updateFor(event, kind, newValues.get(kind)),
  }));
}

function updateFor(
  event: ResetEvent,
  kind: CredentialKind,
  value: SecretValue | undefined,
): CredentialUpdate {
  switch (event.action) {
    case "offboard":
      // Values nobody keeps, locked, and the user may not change them back.
      return { Credentials: required(value, kind), Locked: true, CantChange: true };
    case "unlock-pin":
    case "unlock-password":
      return { ...settingsUpdate(event.settings), HackCount: 0, TimeHacked: "", Locked: false };
    case "reset-pin":
    case "reset-password":
      return { Credentials: required(value, kind), ...settingsUpdate(event.settings) };
    case "update-pin-settings":
    case "update-password-settings":
      return settingsUpdate(event.settings);
  }
}

function required(value: SecretValue | undefined, kind: CredentialKind): SecretValue {
  if (value === undefined) throw new Error(`planChanges needs a new ${kind} value`);
  return value;
}
