import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { readdir } from "node:fs/promises";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import demoSecrets from "../../dev/demo-secrets.json" with { type: "json" };

const run = promisify(execFile);

const CODE_BY_PREFIX: Array<[string, string]> = [
  ["dlq-invalid-", "INVALID_EVENT"],
  ["dlq-user-not-found-", "USER_NOT_FOUND"],
  ["dlq-ambiguous-user-", "AMBIGUOUS_USER"],
  ["dlq-secret-not-found-", "SECRET_NOT_FOUND"],
  ["dlq-credential-rejected-", "CREDENTIAL_REJECTED"],
  ["dlq-not-permitted-", "NOT_PERMITTED"],
  ["dlq-action-not-allowed-", "ACTION_NOT_ALLOWED"],
];

describe("npm start", () => {
  it("runs every example through the local pipeline and shows each outcome", async () => {
    const { stdout, stderr } = await run(process.execPath, ["dev/start.ts", "--once"], {
      timeout: 60_000,
    });
    const rows = stdout.split("\n").filter((line) => line.startsWith("│ "));
    // After the table: one line per outcome event the ticketing queue received.
    const outcomeLines = stdout
      .slice(stdout.indexOf("Outcome events on the ticketing queue"))
      .split("\n")
      .filter((line) => line.startsWith("  "));
    const examples = (await readdir("examples")).filter((name) => name.endsWith(".json"));
    expect(examples.length).toBeGreaterThan(10);
    for (const file of examples) {
      const row = rows.find((candidate) => candidate.includes(`'${file}'`)) ?? "";
      const received = outcomeLines.filter((line) => line.startsWith(`  ${file}: `));
      expect(received, file).toHaveLength(1);
      if (file.startsWith("ok-")) {
        expect(row, file).toContain("'applied'");
        expect(received[0], file).toContain(": Credential Reset Applied | eventId ");
      } else {
        const code = CODE_BY_PREFIX.find(([prefix]) => file.startsWith(prefix))?.[1];
        expect(code, `${file} has a known dlq- prefix`).toBeDefined();
        expect(row, file).toContain("'dead-lettered'");
        expect(row, file).toContain(`'${code}'`);
        const kind = code === "ACTION_NOT_ALLOWED" ? "Refused" : "Failed";
        expect(received[0], file).toMatch(
          new RegExp(`: Credential Reset ${kind} \\| .*\\| ${code}$`),
        );
      }
    }
    expect(stdout).toContain('"detail-type": "Credential Reset Applied"');
    // The injected 500s make at least one delivery fail transiently and come back.
    const dataRows = rows.filter((row) => /^│ \d/.test(row));
    expect(dataRows).toHaveLength(examples.length);
    const retries = dataRows.map((row) => Number(row.split("│")[4]?.trim()));
    expect(retries.every((count) => Number.isInteger(count))).toBe(true);
    expect(retries.some((count) => count > 0)).toBe(true);
    for (const secret of Object.values(demoSecrets)) {
      const pin = /\d{6}/.exec(secret)?.[0];
      if (pin !== undefined && pin !== "123456") expect(stdout).not.toContain(pin);
    }
    expect(stderr).toBe("");
  });

  it("keeps polling: the pasted environment sends an event, and its outcome is printed as it settles", async () => {
    const start = spawn(process.execPath, ["dev/start.ts", "--no-examples"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    start.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    const until = async (pattern: RegExp): Promise<RegExpExecArray> => {
      const giveUpAt = Date.now() + 30_000;
      for (;;) {
        const match = pattern.exec(stdout);
        if (match !== null) return match;
        if (Date.now() > giveUpAt) throw new Error(`no ${pattern} in:\n${stdout}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    try {
      await until(/Ctrl\+C stops everything/);
      expect(stdout).not.toContain("/vmrest (simulator)");
      const pasted = Object.fromEntries(
        [...stdout.matchAll(/^export ([A-Z_]+)=(.*)$/gm)].map(([, name, value]) => [name, value]),
      );
      expect(Object.keys(pasted)).toEqual(
        expect.arrayContaining([
          "AWS_REGION",
          "AWS_ENDPOINT_URL_SQS",
          "AWS_ENDPOINT_URL_SECRETS_MANAGER",
          "QUEUE_URL",
          "DLQ_URL",
          "STATE_TABLE",
        ]),
      );
      // Only what was pasted: not this process's own AWS settings.
      const environment = Object.fromEntries(
        Object.entries(process.env).filter(([name]) => !name.startsWith("AWS_")),
      );
      await run(
        process.execPath,
        ["bin/cupi-reset.ts", "send", "examples/ok-unlock-pin-mrossi.json"],
        {
          env: { ...environment, ...pasted },
          timeout: 30_000,
        },
      );
      const line = await until(/^\d\d:\d\d:\d\d {2}Credential Reset Applied \| eventId .*$/m);
      expect(line[0]).toContain("mrossi");
    } finally {
      start.kill("SIGINT");
      await once(start, "exit");
    }
  }, 60_000);
});
