// What a TLS client certificate says about its holder. The server encodes identity in the
// subject (as the reference does, with private OIDs) and both sides read it back with
// node:crypto, so reading needs no X.509 library.

import { X509Certificate } from "node:crypto";

export const identityOids = {
  renewable: "1.3.9999.1.13",
  generation: "1.3.9999.1.14",
  disallowReissue: "1.3.9999.2.9",
  botName: "1.3.9999.2.18",
  botInstanceId: "1.3.9999.2.20",
  /** Our own: the system role of a non-bot identity ("Admin" for tctl). */
  systemRole: "1.3.9999.3.1",
  /** Our own: the ID of an admin identity (its record in the backend; lockable). */
  adminIdentityId: "1.3.9999.3.2",
} as const;

export interface TlsIdentity {
  username: string;
  roles: string[];
  clusterName: string;
  renewable: boolean;
  generation: number;
  disallowReissue: boolean;
  botName?: string;
  botInstanceId?: string;
  systemRole?: string;
  adminIdentityId?: string;
  notBefore: Date;
  notAfter: Date;
  serial: string;
}

function fields(dn: string): [string, string][] {
  return dn
    .split("\n")
    .filter((l) => l.includes("="))
    .map((l) => {
      const i = l.indexOf("=");
      return [l.slice(0, i), l.slice(i + 1)];
    });
}

export function parseTlsIdentity(cert: string | Uint8Array | X509Certificate): TlsIdentity {
  const x = cert instanceof X509Certificate ? cert : new X509Certificate(cert as string);
  const subj = fields(x.subject);
  const one = (k: string) => subj.find(([f]) => f === k)?.[1];
  const issuer = fields(x.issuer);
  return {
    username: one("CN") ?? "",
    roles: subj.filter(([f]) => f === "O").map(([, v]) => v),
    clusterName: issuer.find(([f]) => f === "O")?.[1] ?? "",
    renewable: one(identityOids.renewable) === "true",
    generation: Number(one(identityOids.generation) ?? "0"),
    disallowReissue: one(identityOids.disallowReissue) === "true",
    botName: one(identityOids.botName),
    botInstanceId: one(identityOids.botInstanceId),
    systemRole: one(identityOids.systemRole),
    adminIdentityId: one(identityOids.adminIdentityId),
    notBefore: new Date(x.validFrom),
    notAfter: new Date(x.validTo),
    serial: x.serialNumber,
  };
}
