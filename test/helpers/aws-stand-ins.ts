// What the AWS stand-ins' tests share: client settings, a call's failure, endpoint variables.

/** A client's settings for a stand-in: any credentials do, signatures are not checked. */
export function standInClientConfig(endpoint?: string) {
  return {
    region: "us-east-1",
    credentials: { accessKeyId: "AKIDLOCAL", secretAccessKey: "local" },
    ...(endpoint === undefined ? {} : { endpoint }),
  };
}

/** What every AWS SDK service exception carries. */
export interface ServiceFailure extends Error {
  readonly $fault: "client" | "server";
  readonly $metadata: {
    readonly httpStatusCode?: number;
    readonly requestId?: string;
    readonly attempts?: number;
  };
}

/** The SDK exception a call failed with; fails the test if the call succeeded. */
export async function rejectionOf(call: Promise<unknown>): Promise<ServiceFailure> {
  try {
    await call;
  } catch (error) {
    return error as ServiceFailure;
  }
  throw new Error("expected the call to fail");
}

/** Runs `body` with these environment variables set, then puts back what was there before. */
async function withEnvironment(
  variables: Readonly<Record<string, string>>,
  body: () => Promise<void>,
): Promise<void> {
  const saved = Object.keys(variables).map((name) => [name, process.env[name]] as const);
  Object.assign(process.env, variables);
  try {
    await body();
  } finally {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

/**
 * Runs `body` with a service's own endpoint variable (AWS_ENDPOINT_URL_EVENTBRIDGE, …) at `url`
 * and the generic AWS_ENDPOINT_URL at the discard port, where nothing listens: a client that
 * reaches `url` read the service's own variable.
 */
export function withServiceEndpoint(
  variable: string,
  url: string,
  body: () => Promise<void>,
): Promise<void> {
  return withEnvironment({ [variable]: url, AWS_ENDPOINT_URL: "http://127.0.0.1:9" }, body);
}
