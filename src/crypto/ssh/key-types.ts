// Every public key type we can read, with its key fields in wire order and its certificate
// type name. The fields of a certificate are the same fields, after the nonce, so one table
// serves plain keys and certificates.

export type SshKeyType = "ssh-ed25519" | "ecdsa-sha2-nistp256";

/** mpint and string share one wire form (uint32 length + bytes); the kind says how to check the bytes. */
export interface KeyField {
  name: string;
  kind: "string" | "mpint";
}

export interface KeyTypeInfo {
  certType: string;
  fields: readonly KeyField[];
}

const str = (name: string): KeyField => ({ name, kind: "string" });
const mpint = (name: string): KeyField => ({ name, kind: "mpint" });
const ecdsaFields = [str("curve name"), str("public point")];

export const keyTypes: Readonly<Record<string, KeyTypeInfo>> = {
  "ssh-ed25519": { certType: "ssh-ed25519-cert-v01@openssh.com", fields: [str("public key")] },
  "ecdsa-sha2-nistp256": { certType: "ecdsa-sha2-nistp256-cert-v01@openssh.com", fields: ecdsaFields },
  "ecdsa-sha2-nistp384": { certType: "ecdsa-sha2-nistp384-cert-v01@openssh.com", fields: ecdsaFields },
  "ecdsa-sha2-nistp521": { certType: "ecdsa-sha2-nistp521-cert-v01@openssh.com", fields: ecdsaFields },
  "ssh-rsa": { certType: "ssh-rsa-cert-v01@openssh.com", fields: [mpint("exponent e"), mpint("modulus n")] },
  "ssh-dss": { certType: "ssh-dss-cert-v01@openssh.com", fields: ["p", "q", "g", "y"].map(mpint) },
  "sk-ecdsa-sha2-nistp256@openssh.com": {
    certType: "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
    fields: [...ecdsaFields, str("application")],
  },
  "sk-ssh-ed25519@openssh.com": {
    certType: "sk-ssh-ed25519-cert-v01@openssh.com",
    fields: [str("public key"), str("application")],
  },
};

const plainTypeOfCert: ReadonlyMap<string, string> = new Map(
  Object.entries(keyTypes).map(([plain, info]) => [info.certType, plain]),
);

export function isPlainKeyType(type: string): boolean {
  return Object.hasOwn(keyTypes, type);
}

/** The plain key type a certificate type certifies, or undefined if `type` is no certificate type we know. */
export function plainTypeOfCertType(type: string): string | undefined {
  return plainTypeOfCert.get(type);
}

export function isCertType(type: string): boolean {
  return plainTypeOfCert.has(type);
}

export function describeKnownTypes(): string {
  return Object.keys(keyTypes).join(", ");
}
