import { describe, expect, it } from "vitest";
import { SessionCookies } from "../../lib/cupi/session-cookies.ts";

describe("SessionCookies", () => {
  it("replays only CUC's session cookies", () => {
    const cookies = new SessionCookies();
    cookies.remember([
      "JSESSIONIDSSO=SSO123; Path=/; Secure; HttpOnly",
      "JSESSIONID=ABC456; Path=/vmrest; Secure; HttpOnly",
      "REQUEST_TOKEN_KEY=-77; Path=/",
      "tracking=1",
    ]);
    expect(cookies.header()).toBe("JSESSIONIDSSO=SSO123; JSESSIONID=ABC456");
  });

  it("forgets cookies after the replay window or their own Max-Age", () => {
    let now = 1_000_000;
    const cookies = new SessionCookies(60_000, () => now);
    cookies.remember(["JSESSIONIDSSO=SSO; Max-Age=10", "JSESSIONID=J"]);
    now += 11_000;
    expect(cookies.header()).toBe("JSESSIONID=J");
    now += 50_000;
    expect(cookies.header()).toBeUndefined();
  });

  it("deletes a cookie the server expires and clears all on demand", () => {
    const cookies = new SessionCookies();
    cookies.remember(["JSESSIONIDSSO=SSO", "JSESSIONID=J"]);
    cookies.remember(["JSESSIONID=; Max-Age=0"]);
    expect(cookies.header()).toBe("JSESSIONIDSSO=SSO");
    cookies.clear();
    expect(cookies.header()).toBeUndefined();
  });

  it("never shows cookie values when printed", () => {
    const cookies = new SessionCookies();
    cookies.remember(["JSESSIONIDSSO=TOPSECRETSESSION"]);
    expect(String(cookies)).toBe("SessionCookies(1 held)");
  });
});
