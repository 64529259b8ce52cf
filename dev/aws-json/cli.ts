// What the stand-ins' command lines share: the --port argument, the SDK setup they print, Ctrl+C.

/** The --port argument as a TCP port; exits with status 2 on anything else. */
export function portArgument(text: string | undefined): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    console.error(`--port must be a TCP port number, not ${text}`);
    process.exit(2);
  }
  return port;
}

/** Prints how to point the AWS SDK at a running stand-in, and closes it on Ctrl+C. */
export function serveUntilInterrupted(
  standIn: { readonly url: string; close(): Promise<void> },
  endpointVariable: string,
  region: string,
): void {
  console.log(
    "point the AWS SDK at it (any credentials are accepted; signatures are not checked):",
  );
  console.log(`  export ${endpointVariable}=${standIn.url}`);
  console.log(
    `  export AWS_REGION=${region} AWS_ACCESS_KEY_ID=AKIDLOCAL AWS_SECRET_ACCESS_KEY=local`,
  );
  console.log("Ctrl+C stops");
  process.once("SIGINT", () => {
    void standIn.close();
  });
}
