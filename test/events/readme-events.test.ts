// Every event the README shows is one the shipped deployment takes: `cli check` with the
// serverless.yml defaults (secret prefixes, every action, the built-in authorization policy).
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect, it } from "vitest";

const run = promisify(execFile);

/** The JSON blocks of the README that are events (not outcome details or log lines). */
async function readmeEvents(): Promise<string[]> {
  const readme = await readFile("README.md", "utf8");
  return [...readme.matchAll(/```json\n([\s\S]*?)```/g)]
    .map(([, block]) => block as string)
    .filter((block) => {
      const parsed = JSON.parse(block) as Record<string, unknown>;
      const fields = ["version", "eventId", "occurredAt", "user", "action"];
      // An outcome event's detail names the event's fields too, and its outcome.
      return fields.every((key) => key in parsed) && !("outcome" in parsed);
    });
}

/** The clusters of the README's "A second cluster" deployment (its `cupiClusters` parameter). */
async function readmeClusters(): Promise<string> {
  const readme = await readFile("README.md", "utf8");
  const clusters = /--param='cupiClusters=(\{.*\})'/.exec(readme)?.[1];
  if (clusters === undefined) throw new Error("the README shows no cupiClusters parameter");
  return clusters;
}

/** A default of serverless.yml's `params.default`. */
async function shippedParameter(name: string): Promise<string> {
  const yaml = await readFile("serverless.yml", "utf8");
  const value = new RegExp(`^    ${name}: (.+)$`, "m").exec(yaml)?.[1];
  if (value === undefined) throw new Error(`serverless.yml has no default for ${name}`);
  return value.trim();
}

it("accepts every event snippet of the README with the shipped defaults", async () => {
  const events = await readmeEvents();
  expect(events.length).toBeGreaterThanOrEqual(2);
  const work = await mkdtemp(join(tmpdir(), "cupi-reset-readme-"));
  try {
    const files = await Promise.all(
      events.map(async (event, index) => {
        const file = join(work, `readme-event-${index + 1}.json`);
        await writeFile(file, event);
        return file;
      }),
    );
    // Only what a deployment with the defaults sets, not this shell's settings.
    const environment = Object.fromEntries(
      Object.entries(process.env).filter(
        ([name]) => !/^(AWS_|CUPI_|ALLOWED_|AUTHORIZATION_|RESET_|DELIVERY_)/.test(name),
      ),
    );
    const { stdout } = await run(process.execPath, ["bin/cupi-reset.ts", "check", ...files], {
      env: {
        ...environment,
        // The README's deployment of two clusters: events naming none go to the default one.
        CUPI_BASE_URL: "https://cuc-pub.example.com",
        CUPI_SECRET_ID: await shippedParameter("cupiSecretName"),
        CUPI_CLUSTERS: await readmeClusters(),
        RESET_SECRET_PREFIX: await shippedParameter("resetSecretPrefix"),
        DELIVERY_SECRET_PREFIX: await shippedParameter("deliverySecretPrefix"),
      },
    });
    expect(stdout.trim().split("\n")).toEqual(files.map((file) => `${file}: valid`));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});
