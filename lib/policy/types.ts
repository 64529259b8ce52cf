/** What the caller knows about the user and the authentication rule in force. */
export interface CredentialPolicyContext {
  /** The authentication rule's MinLength, when known; the effective minimum is max(this, default). */
  readonly minLength?: number;
  readonly alias?: string;
  /** Primary extension (DtmfAccessId) and alternate extensions. */
  readonly extensions?: readonly string[];
  readonly firstName?: string;
  readonly lastName?: string;
}

export type PolicyRule =
  | "min-length"
  | "max-length"
  | "digits-only"
  | "repeated-group"
  | "two-distinct-digits"
  | "digit-repeated-thrice"
  | "sequential-run"
  | "keypad-line"
  | "contains-extension"
  | "name-on-keypad"
  | "character-classes"
  | "printable-ascii"
  | "contains-alias"
  | "contains-name"
  | "character-repeated-thrice";

export interface PolicyViolation {
  readonly rule: PolicyRule;
  /** Describes the rule only: it never contains the checked value, which is a secret. */
  readonly message: string;
}
