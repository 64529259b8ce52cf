import { describe, expect, it } from "vitest";
import { CupiError, kindForStatus, RETRIED_IN_CALL } from "../../lib/cupi/errors.ts";

describe("kindForStatus", () => {
  it.each([
    [400, undefined, "rejected", false],
    [401, undefined, "authentication", true],
    [403, undefined, "not-permitted", false],
    [400, "Not Authorized to modify this user", "not-permitted", false],
    [404, undefined, "not-found", false],
    [405, undefined, "client-bug", false],
    [415, undefined, "client-bug", false],
    [500, undefined, "server", true],
    [502, undefined, "server", true],
    [503, "Server busy", "busy", true],
  ] as const)("HTTP %i (%s) is %s, retryable %s", (status, message, kind, retryable) => {
    expect(kindForStatus(status, message)).toBe(kind);
    expect(new CupiError("x", { kind, operation: "op" }).retryable).toBe(retryable);
  });

  it("retries in the call only what may pass by itself, never authentication", () => {
    expect([...RETRIED_IN_CALL].sort()).toEqual(["busy", "network", "server", "timeout"]);
  });

  it("keeps everything but the attempt count when recording attempts", () => {
    const original = new CupiError("HTTP 503: Server busy", {
      kind: "busy",
      operation: "getUser",
      status: 503,
      cupiMessage: "Server busy",
    });
    const counted = original.withAttempts(4);
    expect(counted).toMatchObject({
      name: "CupiError",
      kind: "busy",
      status: 503,
      attempts: 4,
      retryable: true,
      message: "CUPI getUser: HTTP 503: Server busy",
    });
    expect(original.attempts).toBe(1);
  });
});
