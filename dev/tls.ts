import { isIP } from "node:net";
import { generate } from "selfsigned";

export interface PemKeyPair {
  key: string;
  cert: string;
}

export interface DevCertificates {
  /** Trust this certificate in the client under test, the way a private-CA CUC server is trusted. */
  ca: PemKeyPair;
  server: PemKeyPair;
}

export interface DevCertificateOptions {
  /**
   * Sign the server certificate with this CA instead of a fresh one, e.g. to issue a faulty
   * certificate (expired, not yet valid, for another host) from the CA a client already trusts.
   */
  ca?: PemKeyPair;
  /** The server certificate's notBefore; default now. A future date makes it not yet valid. */
  notBefore?: Date;
  /** The server certificate's notAfter; default notBefore + 365 days. A past date expires it. */
  notAfter?: Date;
}

/**
 * A throwaway CA and a server certificate it signed, valid for `hosts` (DNS names or IP addresses).
 * The SAN holds `hosts` only: pass another name (e.g. `cuc.example.com`) for a wrong-host
 * certificate.
 */
export async function createDevCertificates(
  hosts: readonly string[] = ["localhost", "127.0.0.1"],
  options: DevCertificateOptions = {},
): Promise<DevCertificates> {
  const ca = options.ca ?? (await createDevCa());
  const server = await generate([{ name: "commonName", value: hosts[0] ?? "localhost" }], {
    keyType: "ec",
    algorithm: "sha256",
    ca: { key: ca.key, cert: ca.cert },
    ...(options.notBefore === undefined ? {} : { notBeforeDate: options.notBefore }),
    ...(options.notAfter === undefined ? {} : { notAfterDate: options.notAfter }),
    extensions: [
      { name: "basicConstraints", cA: false, critical: true },
      { name: "keyUsage", digitalSignature: true, critical: true },
      { name: "extKeyUsage", serverAuth: true },
      {
        name: "subjectAltName",
        altNames: hosts.map((host) =>
          isIP(host) === 0 ? { type: 2, value: host } : { type: 7, ip: host },
        ),
      },
    ],
  });
  return { ca, server: { key: server.private, cert: server.cert } };
}

async function createDevCa(): Promise<PemKeyPair> {
  // EC P-256 keys take milliseconds to generate, where RSA takes noticeably longer in every test run.
  const ca = await generate([{ name: "commonName", value: "cupi-reset development CA" }], {
    keyType: "ec",
    algorithm: "sha256",
    extensions: [
      { name: "basicConstraints", cA: true, critical: true },
      {
        name: "keyUsage",
        keyCertSign: true,
        cRLSign: true,
        digitalSignature: true,
        critical: true,
      },
    ],
  });
  return { key: ca.private, cert: ca.cert };
}
