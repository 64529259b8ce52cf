import { describe, expect, it } from "vitest";
import { AuthenticationRuleCache } from "../../lib/reset/authentication-rules.ts";
import { rulesChanged } from "../../lib/reset/new-values.ts";
import { counting } from "../helpers/counting.ts";

const RULE = {
  objectId: "6f1c2a4e-8b3d-4e5f-9a70-000000000004",
  minLength: 6,
} as unknown as import("../../lib/cupi/types.ts").AuthenticationRule;

/** CUC's answer to a rule read, counted. */
const reader = (read: () => Promise<typeof RULE | undefined> = async () => RULE) => counting(read);

describe("AuthenticationRuleCache", () => {
  it("reads a rule once per cluster within its period, and says which answers came from before", async () => {
    const cache = new AuthenticationRuleCache(60_000);
    const cuc = reader();
    expect(await cache.get("emea", RULE.objectId, cuc.run)).toEqual({ rule: RULE, cached: false });
    expect(await cache.get("emea", RULE.objectId.toUpperCase(), cuc.run)).toEqual({
      rule: RULE,
      cached: true,
    });
    expect(cuc.calls).toBe(1);
    // Another cluster has its own rules, whatever their ids.
    await cache.get("amer", RULE.objectId, cuc.run);
    expect(cuc.calls).toBe(2);
  });

  it("reads again once the period is over", async () => {
    const cache = new AuthenticationRuleCache(0);
    const cuc = reader();
    await cache.get("emea", RULE.objectId, cuc.run);
    expect((await cache.get("emea", RULE.objectId, cuc.run)).cached).toBe(false);
    expect(cuc.calls).toBe(2);
  });

  it("shares a read under way, and keeps no failed one", async () => {
    const cache = new AuthenticationRuleCache();
    const slow = reader(async () => {
      await new Promise((resolve) => setTimeout(resolve, 10));
      return RULE;
    });
    expect(
      await Promise.all([
        cache.get("emea", RULE.objectId, slow.run),
        cache.get("emea", RULE.objectId, slow.run),
      ]),
    ).toEqual([
      { rule: RULE, cached: false },
      { rule: RULE, cached: true },
    ]);
    expect(slow.calls).toBe(1);
    const busy = reader(async () => {
      throw new Error("CUC busy");
    });
    await expect(cache.get("amer", RULE.objectId, busy.run)).rejects.toThrow("CUC busy");
    expect(await cache.get("amer", RULE.objectId, reader().run)).toEqual({
      rule: RULE,
      cached: false,
    });
  });

  it("a caller that waited on another's failed read (its deadline) reads under its own", async () => {
    const cache = new AuthenticationRuleCache();
    const cutShort = reader(async () => {
      await new Promise((resolve) => setTimeout(resolve, 10));
      throw new Error("the first record's deadline");
    });
    const own = reader();
    const [first, second] = await Promise.allSettled([
      cache.get("emea", RULE.objectId, cutShort.run),
      cache.get("emea", RULE.objectId, own.run),
    ]);
    expect(first.status).toBe("rejected");
    expect(second).toEqual({ status: "fulfilled", value: { rule: RULE, cached: false } });
    expect([cutShort.calls, own.calls]).toEqual([1, 1]);
  });

  it("forgets one cluster's rules, not another's", async () => {
    const cache = new AuthenticationRuleCache();
    const cuc = reader();
    await cache.get("emea", RULE.objectId, cuc.run);
    await cache.get("amer", RULE.objectId, cuc.run);
    cache.forget("emea");
    expect((await cache.get("emea", RULE.objectId, cuc.run)).cached).toBe(false);
    expect((await cache.get("amer", RULE.objectId, cuc.run)).cached).toBe(true);
  });
});

describe("AuthenticationRuleCache: the strictest rule seen in force", () => {
  const rule = (objectId: string, minLength: number | undefined) =>
    ({ ...RULE, objectId, minLength }) as typeof RULE;

  it("is none until a rule was seen for that credential in that cluster", () => {
    const cache = new AuthenticationRuleCache();
    expect(cache.strictestInForce("emea", "pin")).toBeUndefined();
    cache.noteInForce("emea", "pin", "a", rule("a", 6));
    expect(cache.strictestInForce("emea", "pin")).toEqual({ minLength: 6 });
    expect(cache.strictestInForce("emea", "password")).toBeUndefined();
    expect(cache.strictestInForce("amer", "pin")).toBeUndefined();
  });

  it("takes the longest MinLength, a rule without one or none at all leaving the default", () => {
    const cache = new AuthenticationRuleCache();
    cache.noteInForce("emea", "pin", undefined, undefined);
    expect(cache.strictestInForce("emea", "pin")).toEqual({ minLength: undefined });
    cache.noteInForce("emea", "pin", "a", rule("a", 6));
    cache.noteInForce("emea", "pin", "B", rule("b", 10));
    cache.noteInForce("emea", "pin", "c", rule("c", undefined));
    expect(cache.strictestInForce("emea", "pin")).toEqual({ minLength: 10 });
    // The same rule seen again, changed: its latest reading counts, not the earlier one.
    cache.noteInForce("emea", "pin", "b", rule("b", 8));
    expect(cache.strictestInForce("emea", "pin")).toEqual({ minLength: 8 });
  });

  it("lasts the cache period, and is forgotten with the cluster's rules", () => {
    const expired = new AuthenticationRuleCache(0);
    expired.noteInForce("emea", "pin", "a", rule("a", 6));
    expect(expired.strictestInForce("emea", "pin")).toBeUndefined();
    const cache = new AuthenticationRuleCache();
    cache.noteInForce("emea", "pin", "a", rule("a", 6));
    cache.noteInForce("amer", "pin", "a", rule("a", 6));
    cache.forget("emea");
    expect(cache.strictestInForce("emea", "pin")).toBeUndefined();
    expect(cache.strictestInForce("amer", "pin")).toEqual({ minLength: 6 });
  });
});

describe("rulesChanged (after CUC refused a value generated under a cached rule)", () => {
  const cached = new Map([[RULE.objectId, RULE]]);

  it("is false when the rule reads the same now: the refusal stands", async () => {
    expect(await rulesChanged(cached, async () => ({ ...RULE }))).toBe(false);
  });

  it("is true when the rule changed, or cannot be read now", async () => {
    expect(await rulesChanged(cached, async () => ({ ...RULE, minLength: 9 }))).toBe(true);
    expect(
      await rulesChanged(cached, async () => {
        throw new Error("CUC busy");
      }),
    ).toBe(true);
  });
});
