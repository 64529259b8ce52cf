import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);

describe("npm start", () => {
  it("runs the demo end to end and shows each outcome", async () => {
    const { stdout, stderr } = await run(process.execPath, ["dev/start.ts", "--once"], {
      timeout: 30_000,
    });
    const rows = stdout.split("\n").filter((line) => line.startsWith("│ "));
    const outcomeOf = (step: string) => rows.find((row) => row.includes(step)) ?? "";
    expect(outcomeOf("reset PIN (generated")).toContain("'applied'");
    expect(outcomeOf("reset web password")).toContain("'applied'");
    expect(outcomeOf("unlock PIN")).toContain("HackCount 0, locked false");
    expect(outcomeOf("trivial value")).toContain("rejected (permanent)");
    expect(outcomeOf("administrator")).toContain("not-permitted (permanent)");
    expect(outcomeOf("busy")).toContain("applied after 2 busy answer(s)");
    expect(outcomeOf("unknown alias")).toContain("not-found (permanent)");
    expect(outcomeOf("two users")).toContain("ambiguous (permanent)");
    expect(stdout).toMatch(/1 fresh authentication\(s\)/);
    expect(stderr).toBe("");
  });
});
