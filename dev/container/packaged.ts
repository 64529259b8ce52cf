// The reset function as Lambda receives it: `npm run package`'s reset.zip, built offline in a copy
// of the project and unzipped, for containers that run the packaged bundle rather than the sources.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { cp, mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { unzipSync } from "fflate";

const execFileAsync = promisify(execFile);
const REPO = fileURLToPath(new URL("../../", import.meta.url));
const NOT_COPIED = new Set(["node_modules", ".git", ".serverless", ".esbuild", "coverage"]);
/** examples/deployment.params: the parameters every deployment must give, with example values. */
export const EXAMPLE_DEPLOYMENT_PARAMS: readonly string[] = readFileSync(
  join(REPO, "examples/deployment.params"),
  "utf8",
)
  .split("\n")
  .map((line) => line.trim())
  .filter((line) => line !== "" && !line.startsWith("#"));

/** The reset function's entry in reset.zip. */
export const HANDLER_MODULE = "functions/reset.mjs";

/**
 * `npm run package`'s command (osls package, offline, dummy credentials) with the example
 * deployment's parameters (unless `exampleParams` is false), then `params` (`--param=…`, which
 * win), in a copy of the project under `work` with its node_modules linked:
 * serverless-esbuild builds in the project's `.esbuild`, which parallel packagings must not share.
 */
export async function packageProject(
  work: string,
  params: readonly string[] = [],
  { exampleParams = true }: { readonly exampleParams?: boolean } = {},
): Promise<{ project: string; output: string }> {
  const project = join(work, "project");
  await cp(REPO, project, {
    recursive: true,
    filter: (source) => source === REPO || !NOT_COPIED.has(basename(source)),
  });
  await symlink(join(REPO, "node_modules"), join(project, "node_modules"), "dir");
  const output = join(work, "package");
  await execFileAsync(
    process.execPath,
    [
      "node_modules/osls/bin/serverless.js",
      "package",
      "--package",
      output,
      ...(exampleParams ? EXAMPLE_DEPLOYMENT_PARAMS : []),
      ...params,
    ],
    {
      cwd: project,
      env: {
        ...process.env,
        AWS_ACCESS_KEY_ID: "offline",
        AWS_SECRET_ACCESS_KEY: "offline",
        AWS_REGION: "eu-west-1",
      },
      timeout: 180_000,
    },
  );
  return { project, output };
}

export async function unzipInto(
  zipPath: string,
  destination: string,
): Promise<Record<string, Uint8Array>> {
  const entries = unzipSync(await readFile(zipPath));
  for (const [name, content] of Object.entries(entries)) {
    await mkdir(dirname(join(destination, name)), { recursive: true });
    await writeFile(join(destination, name), content);
  }
  return entries;
}

/** Packages the project under `work` and unzips reset.zip there; the handler module's path. */
export async function packagedResetHandler(work: string): Promise<string> {
  const { output } = await packageProject(work);
  const unzipped = join(work, "reset");
  const entries = await unzipInto(join(output, "reset.zip"), unzipped);
  if (!(HANDLER_MODULE in entries)) throw new Error(`reset.zip has no ${HANDLER_MODULE}`);
  return join(unzipped, HANDLER_MODULE);
}
