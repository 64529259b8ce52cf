import { describe, expect, it } from "vitest";
import { AuthenticationRuleCache } from "../../lib/reset/authentication-rules.ts";

const RULE = {
  objectId: "6f1c2a4e-8b3d-4e5f-9a70-000000000004",
  minLength: 6,
} as unknown as import("../../lib/cupi/types.ts").AuthenticationRule;

/** A read of the rule that counts its calls. */
function reader(read: () => Promise<typeof RULE | undefined> = async () => RULE) {
  let calls = 0;
  return {
    read: () => {
      calls += 1;
      return read();
    },
    get calls() {
      return calls;
    },
  };
}

describe("AuthenticationRuleCache", () => {
  it("reads a rule once per cluster within its period, and says which answers came from before", async () => {
    const cache = new AuthenticationRuleCache(60_000);
    const cuc = reader();
    expect(await cache.get("emea", RULE.objectId, cuc.read)).toEqual({ rule: RULE, cached: false });
    expect(await cache.get("emea", RULE.objectId.toUpperCase(), cuc.read)).toEqual({
      rule: RULE,
      cached: true,
    });
    expect(cuc.calls).toBe(1);
    // Another cluster has its own rules, whatever their ids.
    await cache.get("amer", RULE.objectId, cuc.read);
    expect(cuc.calls).toBe(2);
  });

  it("reads again once the period is over", async () => {
    const cache = new AuthenticationRuleCache(0);
    const cuc = reader();
    await cache.get("emea", RULE.objectId, cuc.read);
    expect((await cache.get("emea", RULE.objectId, cuc.read)).cached).toBe(false);
    expect(cuc.calls).toBe(2);
  });

  it("shares a read under way, and keeps no failed one", async () => {
    const cache = new AuthenticationRuleCache();
    let fail = true;
    const cuc = reader(async () => {
      await new Promise((resolve) => setTimeout(resolve, 10));
      if (fail) throw new Error("CUC busy");
      return RULE;
    });
    const both = await Promise.allSettled([
      cache.get("emea", RULE.objectId, cuc.read),
      cache.get("emea", RULE.objectId, cuc.read),
    ]);
    expect(both.map((result) => result.status)).toEqual(["rejected", "rejected"]);
    expect(cuc.calls).toBe(1);
    fail = false;
    expect(await cache.get("emea", RULE.objectId, cuc.read)).toEqual({ rule: RULE, cached: false });
  });

  it("forgets one cluster's rules, not another's", async () => {
    const cache = new AuthenticationRuleCache();
    const cuc = reader();
    await cache.get("emea", RULE.objectId, cuc.read);
    await cache.get("amer", RULE.objectId, cuc.read);
    cache.forget("emea");
    expect((await cache.get("emea", RULE.objectId, cuc.read)).cached).toBe(false);
    expect((await cache.get("amer", RULE.objectId, cuc.read)).cached).toBe(true);
  });
});
