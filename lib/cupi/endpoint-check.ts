// Tells a 404 that means "no such user" from one that means "this base URL does not lead to CUPI".
import { CupiError } from "./errors.ts";

/** How long a base URL seen answering `/vmrest/version` is taken to lead to CUPI. */
export const DEFAULT_ENDPOINT_TRUST_MS = 5 * 60_000;

/** Operations whose 404 can only mean a wrong base URL: CUPI's search answers "no match" with 200. */
const NEVER_404: ReadonlySet<string> = new Set(["findUserByAlias", "version"]);

const HINT =
  "the base URL should be the server's address (https://cuc.example.com), without /vmrest or another path CUC does not serve";

/**
 * A wrong base URL (a path CUC does not serve, a load balancer's default site) answers 404 to
 * everything, which would dead-letter every event as a missing user. So a 404 is believed only
 * when `/vmrest/version` answers from the same base URL; that check costs one request, made only
 * after a 404 (shared by the 404s that arrive while it is under way) and then not again for
 * `trustMs`.
 */
export class EndpointCheck {
  readonly #trustMs: number;
  #trustedUntil = 0;
  #probing: Promise<CupiError | undefined> | undefined;

  constructor(trustMs = DEFAULT_ENDPOINT_TRUST_MS) {
    this.#trustMs = trustMs;
  }

  /**
   * The error a 404 stands for: the `not-found` itself once the base URL answered as CUPI; the
   * probe's own failure when it may pass (a timeout, CUC busy: decided on a later try); else a
   * `not-cupi` one. `probe` reads `/vmrest/version` within the caller's deadline.
   */
  async explain(notFound: CupiError, probe: () => Promise<unknown>): Promise<CupiError> {
    const what = `HTTP 404 from ${notFound.operation}`;
    if (NEVER_404.has(notFound.operation)) return notCupi(notFound, what);
    if (Date.now() < this.#trustedUntil) return notFound;
    this.#probing ??= this.#probe(probe).finally(() => {
      this.#probing = undefined;
    });
    const failure = await this.#probing;
    if (failure === undefined) return notFound;
    if (failure.kind === "not-cupi") return notCupi(notFound, `${what} and from version`);
    if (failure.retryable) return failure;
    // A 403 or 400 to the version too (a proxy, a firewall): nothing about this user.
    return notCupi(notFound, `${what}; then ${failure.message}`);
  }

  async #probe(probe: () => Promise<unknown>): Promise<CupiError | undefined> {
    try {
      await probe();
    } catch (error) {
      if (error instanceof CupiError) return error;
      throw error;
    }
    this.#trustedUntil = Date.now() + this.#trustMs;
    return undefined;
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
