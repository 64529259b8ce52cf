import { describe, expect, it } from "vitest";
import {
  isAlias,
  isObjectId,
  requireAlias,
  requireObjectId,
  vmrestPath,
} from "../../lib/cupi/identifiers.ts";

describe("objectIds", () => {
  it("accepts 36-character GUIDs and returns them lowercase", () => {
    expect(requireObjectId("1F0A2B3C-4D5E-6F70-8192-A3B4C5D6E7F8")).toBe(
      "1f0a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8",
    );
  });

  it.each([
    "",
    "1f0a2b3c4d5e6f708192a3b4c5d6e7f8",
    "1f0a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8/credential",
    "../../users",
    "1f0a2b3c-4d5e-6f70-8192-a3b4c5d6e7f",
    "1f0a2b3c-4d5e-6f70-8192-a3b4c5d6e7fg",
    " 1f0a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8",
    "1f0a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8\n",
  ])("refuses %j", (value) => {
    expect(isObjectId(value)).toBe(false);
    expect(() => requireObjectId(value)).toThrow(/36-character GUID/);
  });
});

describe("aliases", () => {
  it.each(["jsmith", "john.smith", "j_smith-2", "jsmith@example.com", "A", "x".repeat(64)])(
    "accepts %j",
    (alias) => {
      expect(isAlias(alias)).toBe(true);
      expect(requireAlias(alias)).toBe(alias);
    },
  );

  it.each([
    "",
    "../admin",
    "..",
    "a..b",
    ".hidden",
    "jsmith)",
    "(alias is x)",
    "j smith",
    "jsmith%2F..",
    "a/b",
    "a\\b",
    "a?b=c",
    "a#b",
    "jsmith\n",
    "jsmith;drop",
    "x".repeat(65),
  ])("refuses %j before any URL is built", (alias) => {
    expect(isAlias(alias)).toBe(false);
    expect(() => requireAlias(alias)).toThrow(/alias must be/);
  });
});

describe("vmrestPath", () => {
  it("encodes each segment so none can add a segment or a query", () => {
    expect(vmrestPath("users", "a/b", "c?d#e")).toBe("/vmrest/users/a%2Fb/c%3Fd%23e");
    expect(vmrestPath("users", "id", "credential", "pin")).toBe("/vmrest/users/id/credential/pin");
  });

  it.each(["", ".", ".."])("refuses the segment %j, which encoding would leave as it is", (bad) => {
    expect(() => vmrestPath("users", bad, "credential")).toThrow(/must not be empty, \. or \.\./);
  });
});
