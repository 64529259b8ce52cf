import { describe, expect, it } from "vitest";
import { type BatchEvent, requestsByAction } from "../../bench/requests-by-action.ts";
import type { RecordedRequest } from "../../dev/cupi-simulator/index.ts";

const JSMITH = "0b4e934c-dd78-4fc9-9e64-69acf166123e";
const MROSSI = "73aa24b9-7d93-4376-add9-bf39198d0c76";
const batch: BatchEvent[] = [
  { action: "reset-pin", alias: "jsmith", objectId: JSMITH },
  { action: "reset-pin-generated", alias: "mrossi", objectId: MROSSI },
];

function request(method: string, path: string, query: Record<string, string> = {}) {
  return { method, path, query } as RecordedRequest;
}

describe("requestsByAction", () => {
  it("counts a request against the event of the user it names, by objectId or by alias search", () => {
    const counts = requestsByAction(
      [
        request("GET", "/vmrest/users", { query: "(alias is jsmith)" }),
        request("PUT", `/vmrest/users/${JSMITH}/credential/pin`),
        request("GET", "/vmrest/users", { query: "(alias is mrossi)" }),
        request("GET", `/vmrest/users/${MROSSI.toUpperCase()}/credential/pin`),
        request("PUT", `/vmrest/users/${MROSSI}/credential/pin`),
      ],
      batch,
    );
    expect(Object.fromEntries(counts)).toEqual({ "reset-pin": 2, "reset-pin-generated": 3 });
  });

  it("gives a request that names no user to the events that generate a value, else to all", () => {
    const rule = request("GET", "/vmrest/authenticationrules/5e3c0000-0000-4000-8000-000000000001");
    expect(Object.fromEntries(requestsByAction([rule], batch))).toEqual({
      "reset-pin-generated": 1,
    });
    const plain: BatchEvent[] = [
      batch[0] as BatchEvent,
      { ...(batch[0] as BatchEvent), action: "unlock-pin" },
    ];
    expect(
      Object.fromEntries(requestsByAction([request("GET", "/vmrest/version")], plain)),
    ).toEqual({
      "reset-pin": 0.5,
      "unlock-pin": 0.5,
    });
  });
});
