// What a CUPI base URL may be: checked once, the same way by the configuration (at cold start) and
// by the transport.

/** A base URL that cannot lead to CUPI safely; the message names what is wrong, never a secret. */
export class CupiBaseUrlError extends TypeError {
  override readonly name = "CupiBaseUrlError";
  /** Refused only for being `http://` without allowInsecureHttp: the caller names its own flag. */
  readonly insecureHttp: boolean;

  constructor(message: string, insecureHttp = false) {
    super(message);
    this.insecureHttp = insecureHttp;
  }
}

/**
 * The server's address, `https://cuc.example.com` (optionally with a path prefix, for a reverse
 * proxy). A trailing `/vmrest` is dropped: the client adds it to every path, and a base URL copied
 * from a CUPI address (`…/vmrest`) would otherwise send `/vmrest/vmrest/users`, which CUC answers 404.
 * `allowInsecureHttp` permits `http://`, for the local simulator only.
 */
export function parseCupiBaseUrl(baseUrl: string, allowInsecureHttp: boolean): URL {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new CupiBaseUrlError("CUPI base URL is not a valid URL");
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && allowInsecureHttp)) {
    throw url.protocol === "http:"
      ? new CupiBaseUrlError(
          "CUPI base URL must use https:// (http:// is only for the local simulator, with allowInsecureHttp)",
          true,
        )
      : new CupiBaseUrlError(`CUPI base URL must use https://, not ${url.protocol}//`);
  }
  if (url.username !== "" || url.password !== "") {
    throw new CupiBaseUrlError("CUPI base URL must not contain credentials");
  }
  if (url.search !== "" || url.hash !== "") {
    throw new CupiBaseUrlError("CUPI base URL must not contain a query or fragment");
  }
  url.pathname = url.pathname.replace(/\/+$/, "").replace(/\/vmrest$/i, "");
  return url;
}
