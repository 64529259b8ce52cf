// The CLI's `check` and `send`: each event file read, checked as the function would check it,
// and (for send) sent, with one outcome per file, so one bad file does not stop the others.
import { readFile } from "node:fs/promises";
import { checkEventOffline, type OfflineRules } from "./offline-check.ts";

export type FileOutcome =
  | { readonly file: string; readonly status: "valid" }
  | { readonly file: string; readonly status: "sent"; readonly messageId: string }
  | { readonly file: string; readonly status: "refused" | "unreadable"; readonly reason: string };

/** Each file's verdict, in order, as it is reached. */
export async function* checkEventFiles(
  files: readonly string[],
  rules: OfflineRules,
): AsyncGenerator<FileOutcome> {
  for (const file of files) yield await checkEventFile(file, rules).then(({ outcome }) => outcome);
}

/**
 * Sends each file that passes the check, in order. A failure to send (the queue, the network,
 * credentials) is not the file's: it ends the run, and the caller says so once.
 */
export async function* sendEventFiles(
  files: readonly string[],
  rules: OfflineRules,
  send: (body: string) => Promise<string>,
): AsyncGenerator<FileOutcome> {
  for (const file of files) {
    const { outcome, body } = await checkEventFile(file, rules);
    yield outcome.status === "valid"
      ? { file, status: "sent", messageId: await send(body) }
      : outcome;
  }
}

async function checkEventFile(
  file: string,
  rules: OfflineRules,
): Promise<{ outcome: FileOutcome; body: string }> {
  let body: string;
  try {
    body = await readFile(file, "utf8");
  } catch (error) {
    return { outcome: { file, status: "unreadable", reason: readFailure(error) }, body: "" };
  }
  const verdict = checkEventOffline(body, rules);
  return {
    outcome: verdict.ok
      ? { file, status: "valid" }
      : { file, status: "refused", reason: `${verdict.errorCode}: ${verdict.reason}` },
    body,
  };
}

const READ_FAILURES: Readonly<Record<string, string>> = {
  ENOENT: "no such file",
  EISDIR: "a directory, not a file",
  EACCES: "permission denied",
};

function readFailure(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code ?? "";
  return READ_FAILURES[code] ?? (error instanceof Error ? error.message : String(error));
}

/** The line the CLI prints for a file. */
export function formatFileOutcome(outcome: FileOutcome): string {
  switch (outcome.status) {
    case "valid":
      return `${outcome.file}: valid`;
    case "sent":
      return `${outcome.file}: sent as ${outcome.messageId}`;
    default:
      return `${outcome.file}: ${outcome.status}: ${outcome.reason}`;
  }
}
