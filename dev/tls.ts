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

/** A throwaway CA and a server certificate it signed, valid for `hosts` (DNS names or IP addresses). */
export async function createDevCertificates(
  hosts: readonly string[] = ["localhost", "127.0.0.1"],
): Promise<DevCertificates> {
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
  const server = await generate([{ name: "commonName", value: hosts[0] ?? "localhost" }], {
    keyType: "ec",
    algorithm: "sha256",
    ca: { key: ca.private, cert: ca.cert },
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
  return {
    ca: { key: ca.private, cert: ca.cert },
    server: { key: server.private, cert: server.cert },
  };
}
