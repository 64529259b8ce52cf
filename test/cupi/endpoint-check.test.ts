import { describe, expect, it } from "vitest";
import { EndpointCheck } from "../../lib/cupi/endpoint-check.ts";
import { CupiError } from "../../lib/cupi/errors.ts";
import { counting as probe } from "../helpers/counting.ts";

const notFound = (operation = "getUser") =>
  new CupiError("HTTP 404: User not found", { kind: "not-found", operation, status: 404 });

describe("EndpointCheck", () => {
  it("believes a 404 once the version answered, then for a while without asking again", async () => {
    const check = new EndpointCheck(60_000);
    const version = probe(async () => "15.0.1");
    expect(await check.explain(notFound(), version.run)).toMatchObject({ kind: "not-found" });
    expect(await check.explain(notFound("getCredential(pin)"), version.run)).toMatchObject({
      kind: "not-found",
    });
    expect(version.calls).toBe(1);
  });

  it("asks again once the trust has run out", async () => {
    const check = new EndpointCheck(0);
    const version = probe(async () => "15.0.1");
    await check.explain(notFound(), version.run);
    await check.explain(notFound(), version.run);
    expect(version.calls).toBe(2);
  });

  it("shares one probe among the 404s that arrive while it is under way", async () => {
    const check = new EndpointCheck();
    let answer: (value: unknown) => void = () => {};
    const version = probe(() => new Promise((resolve) => (answer = resolve)));
    const verdicts = Promise.all([1, 2, 3].map(() => check.explain(notFound(), version.run)));
    answer("15.0.1");
    expect((await verdicts).map((error) => error.kind)).toEqual([
      "not-found",
      "not-found",
      "not-found",
    ]);
    expect(version.calls).toBe(1);
  });

  it("never believes a 404 from the search or the version itself, and asks nothing", async () => {
    const check = new EndpointCheck();
    const version = probe(async () => "15.0.1");
    for (const operation of ["findUserByAlias", "version"]) {
      const verdict = await check.explain(notFound(operation), version.run);
      expect(verdict).toMatchObject({ kind: "not-cupi", retryable: true, operation, status: 404 });
    }
    expect(version.calls).toBe(0);
  });

  it.each([
    [
      "a 404 too",
      new CupiError("x", { kind: "not-cupi", operation: "version", status: 404 }),
      /and from version/,
    ],
    [
      "a 403 from a proxy",
      new CupiError("HTTP 403", { kind: "not-permitted", operation: "version", status: 403 }),
      /then CUPI version: HTTP 403/,
    ],
    [
      "a 400",
      new CupiError("HTTP 400", { kind: "rejected", operation: "version", status: 400 }),
      /then CUPI version: HTTP 400/,
    ],
    [
      "an HTML page",
      new CupiError("unreadable response", { kind: "client-bug", operation: "version" }),
      /unreadable/,
    ],
  ])(
    "takes a version answering %s as a base URL that does not lead to CUPI",
    async (_name, failure, reason) => {
      const check = new EndpointCheck();
      const verdict = await check.explain(notFound(), async () => {
        throw failure;
      });
      expect(verdict).toMatchObject({ kind: "not-cupi", retryable: true, operation: "getUser" });
      expect(verdict.message).toMatch(reason);
    },
  );

  it("passes on a probe failure that may pass (a timeout), and trusts nothing yet", async () => {
    const check = new EndpointCheck();
    const timeout = new CupiError("timed out", { kind: "timeout", operation: "version" });
    expect(
      await check.explain(notFound(), async () => {
        throw timeout;
      }),
    ).toBe(timeout);
    const version = probe(async () => "15.0.1");
    expect(await check.explain(notFound(), version.run)).toMatchObject({ kind: "not-found" });
    expect(version.calls).toBe(1);
  });
});
