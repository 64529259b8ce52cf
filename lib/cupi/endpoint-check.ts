// Tells a 404 that means "no such user" from one that means "this base URL does not lead to CUPI".
import { CupiError } from "./errors.ts";

/** How long a base URL seen answering `/vmrest/version` is taken to lead to CUPI. */
export const DEFAULT_ENDPOINT_TRUST_MS = 5 * 60_000;

/** Operations whose 404 can only mean a wrong base URL: CUPI's search answers "no match" with 200. */
const NEVER_404: ReadonlySet<string> = new Set(["findUserByAlias", "version"]);

const HINT =
  "CUPI_BASE_URL should be the server's address (https://cuc.example.com), without /vmrest or another path CUC does not serve";

/**
 * A wrong base URL (a path CUC does not serve, a load balancer's default site) answers 404 to
 * everything, which would dead-letter every event as a missing user. So a 404 is believed only
 * when `/vmrest/version` answers from the same base URL; that check costs one request, made only
 * after a 404 and then not again for `trustMs`.
 */
export class EndpointCheck {
  readonly #trustMs: number;
  #trustedUntil = 0;

  constructor(trustMs = DEFAULT_ENDPOINT_TRUST_MS) {
    this.#trustMs = trustMs;
  }

  /**
   * The error a 404 stands for: the `not-found` itself once the base URL answered as CUPI, a
   * `not-cupi` one otherwise, or the probe's own failure (a timeout: decided on a later try).
   * `probe` reads `/vmrest/version` within the caller's deadline.
   */
  async explain(notFound: CupiError, probe: () => Promise<unknown>): Promise<CupiError> {
    const what = `HTTP 404 from ${notFound.operation}`;
    if (NEVER_404.has(notFound.operation)) return notCupi(notFound, what);
    if (Date.now() < this.#trustedUntil) return notFound;
    try {
      await probe();
    } catch (error) {
      if (!(error instanceof CupiError)) throw error;
      if (error.kind === "not-cupi") return notCupi(notFound, `${what} and from version`);
      if (error.kind === "client-bug") {
        return notCupi(notFound, `${what}; version answered what CUPI does not (${error.message})`);
      }
      return error;
    }
    this.#trustedUntil = Date.now() + this.#trustMs;
    return notFound;
  }
}

function notCupi(notFound: CupiError, what: string): CupiError {
  return new CupiError(`the base URL does not lead to CUPI (${what}); ${HINT}`, {
    kind: "not-cupi",
    operation: notFound.operation,
    attempts: notFound.attempts,
    ...(notFound.status === undefined ? {} : { status: notFound.status }),
  });
}
