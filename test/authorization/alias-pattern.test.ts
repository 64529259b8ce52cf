import { describe, expect, it } from "vitest";
import { AliasPattern, isAliasPattern } from "../../lib/authorization/alias-pattern.ts";

const matches = (pattern: string, alias: string): boolean =>
  new AliasPattern(pattern).matches(alias);

describe("AliasPattern", () => {
  it.each([
    ["admin*", "admin", true],
    ["admin*", "Administrator", true],
    ["admin*", "ADMIN-jdoe", true],
    ["admin*", "sysadmin", false],
    ["admin*", "adm", false],
    ["*-svc", "backup-svc", true],
    ["*-svc", "-svc", true],
    ["*-svc", "backup-svc2", false],
    ["*-svc", "svc", false],
    ["svc-*-prod", "svc-cupi-prod", true],
    ["svc-*-prod", "svc--prod", true],
    ["svc-*-prod", "svc-prod", false],
    ["a*b*c", "abc", true],
    ["a*b*c", "aXbYc", true],
    ["a*b*c", "acb", false],
    ["a*a", "a", false],
    ["a*a", "aa", true],
    ["*", "anyone", true],
    ["**", "anyone", true],
    ["operator", "Operator", true],
    ["operator", "operator2", false],
    ["operator", "xoperator", false],
    ["a.b", "a.b", true],
    ["a.b", "axb", false],
  ])("%s against %s: %s", (pattern, alias, expected) => {
    expect(matches(pattern, alias)).toBe(expected);
  });

  it("takes linear time where a backtracking regular expression would not finish", () => {
    const pattern = new AliasPattern("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b");
    const alias = "a".repeat(200_000);
    const started = performance.now();
    expect(pattern.matches(alias)).toBe(false);
    expect(performance.now() - started).toBeLessThan(200);
  });

  it.each([
    ["", false],
    ["a".repeat(64), true],
    ["a".repeat(65), false],
    ["admin.*", true],
    ["^admin$", false],
    ["(a+)+", false],
    ["adm?n", false],
    ["admin[0-9]", false],
    ["admin user", false],
    ["jsmith@example.com", true],
  ])("%j is a valid pattern: %s", (pattern, valid) => {
    expect(isAliasPattern(pattern)).toBe(valid);
    if (!valid) expect(() => new AliasPattern(pattern)).toThrow(/1-64 of letters/);
  });
});
