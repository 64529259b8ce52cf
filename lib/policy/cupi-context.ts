import type { AuthenticationRule, CupiUser } from "../cupi/types.ts";
import type { CredentialPolicyContext } from "./types.ts";

/** What the trivial-credential rules need to know, read off a CUPI user and its rule. */
export function policyContextFor(
  user: CupiUser,
  rule?: Pick<AuthenticationRule, "minLength">,
  alternateExtensions: readonly string[] = [],
): CredentialPolicyContext {
  const extensions = [user.dtmfAccessId, ...alternateExtensions].filter(
    (extension): extension is string => extension !== undefined && extension !== "",
  );
  return {
    alias: user.alias,
    extensions,
    ...(user.firstName === undefined ? {} : { firstName: user.firstName }),
    ...(user.lastName === undefined ? {} : { lastName: user.lastName }),
    ...(rule?.minLength === undefined ? {} : { minLength: rule.minLength }),
  };
}
