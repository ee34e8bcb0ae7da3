// The cluster's certificate authorities, as the reference has them: host (signs tauth's own
// TLS certificate and SSH host certificates), user (signs bot and admin identities, X.509 and
// SSH), db (signs database servers' certificates: `tctl auth sign --format=db`; clients
// verify databases with it), db_client (signs the database client certificates of `database`
// outputs; databases trust it: ssl_ca_file), app (signs the client certificates of
// `application` outputs and, with `tctl auth sign --format=app`, HTTPS services' own; the
// services trust it: nginx ssl_client_certificate), spiffe (the SPIFFE trust domain's X.509
// CA, URI SAN spiffe://<trust domain>, signing X509-SVIDs; it also holds the ES256 key that
// signs JWT-SVIDs, published as a JWKS with its `kid`). Each is created once, by whichever replica
// gets there first (backend.create), and kept in the backend; a cluster made before a type
// existed gets it at its next start the same way.

import type { webcrypto } from "node:crypto";
import { generateKeyPair, importPrivateKeyPem, pkcs8Pem } from "../crypto/keys.ts";
import { caPinOfCert } from "../crypto/pin.ts";
import { sshPublicKeyLine } from "../crypto/ssh/index.ts";
import { createCACertificate } from "../crypto/x509.ts";
import { isCode, UserError } from "../util/errors.ts";
import type { Backend } from "./backend/backend.ts";
import { jsonItem, parseItem } from "./backend/backend.ts";
import { trustDomainOf } from "./resources/workload-identity.ts";

export type CAType = "host" | "user" | "db" | "db_client" | "app" | "spiffe";

export const caTypes: CAType[] = ["host", "user", "db", "db_client", "app", "spiffe"];

/** Only host and user sign SSH certificates. */
const hasSsh = (t: CAType) => t === "host" || t === "user";

interface StoredCA {
  type: CAType;
  cluster_name: string;
  tls: { cert: string; key: string };
  ssh?: { public: string; key: string };
  /** spiffe only: the trust domain (the cluster name, lowercased) and the JWT-SVID key. */
  trust_domain?: string;
  jwt?: { key: string; kid: string };
}

export interface LoadedCA {
  type: CAType;
  tlsCert: string;
  tlsKey: CryptoKey;
  sshPublic?: string;
  sshKey?: CryptoKey;
  trustDomain?: string;
  jwtKey?: CryptoKey;
  jwtKid?: string;
  /** The JWT key's public half as a JWK (kty, crv, x, y, kid, alg, use). */
  jwk?: webcrypto.JsonWebKey & { kid: string; alg: string; use: string };
}

const caKey = (t: CAType) => `/authorities/${t}`;

async function createCA(clusterName: string, type: CAType): Promise<StoredCA> {
  const tlsKeys = await generateKeyPair("ecdsa-p256");
  const trustDomain = type === "spiffe" ? trustDomainOf(clusterName) : undefined;
  const cert = await createCACertificate({
    clusterName,
    type,
    keys: tlsKeys,
    ...(trustDomain ? { uris: [`spiffe://${trustDomain}`] } : {}),
  });
  const ca: StoredCA = {
    type,
    cluster_name: clusterName,
    tls: { cert, key: await pkcs8Pem(tlsKeys.privateKey) },
  };
  if (trustDomain) {
    const jwt = await generateKeyPair("ecdsa-p256");
    ca.trust_domain = trustDomain;
    ca.jwt = { key: await pkcs8Pem(jwt.privateKey), kid: await jwkThumbprint(jwt.publicKey) };
  }
  if (hasSsh(type)) {
    const ssh = await generateKeyPair("ed25519");
    ca.ssh = { public: await sshPublicKeyLine(ssh.publicKey), key: await pkcs8Pem(ssh.privateKey) };
  }
  return ca;
}

async function load(s: StoredCA): Promise<LoadedCA> {
  const out: LoadedCA = {
    type: s.type,
    tlsCert: s.tls.cert,
    tlsKey: (await importPrivateKeyPem(s.tls.key)).privateKey,
  };
  if (s.ssh) {
    out.sshPublic = s.ssh.public;
    out.sshKey = (await importPrivateKeyPem(s.ssh.key)).privateKey;
  }
  if (s.jwt) {
    const k = await importPrivateKeyPem(s.jwt.key);
    out.trustDomain = s.trust_domain;
    out.jwtKey = k.privateKey;
    out.jwtKid = s.jwt.kid;
    const pub = (await crypto.subtle.exportKey("jwk", k.publicKey)) as webcrypto.JsonWebKey;
    out.jwk = { kty: pub.kty, crv: pub.crv, x: pub.x, y: pub.y, kid: s.jwt.kid, alg: "ES256", use: "sig" };
  }
  return out;
}

export class Authorities {
  private constructor(
    readonly clusterName: string,
    readonly host: LoadedCA,
    readonly user: LoadedCA,
    readonly db: LoadedCA,
    readonly dbClient: LoadedCA,
    readonly app: LoadedCA,
    readonly spiffe: LoadedCA,
  ) {}

  /** Load the CAs, creating them on first start. A cluster name change is refused. */
  static async init(backend: Backend, clusterName: string): Promise<Authorities> {
    const loaded: Partial<Record<CAType, LoadedCA>> = {};
    for (const t of caTypes) {
      let item = await backend.get(caKey(t));
      if (!item) {
        try {
          item = await backend.create(jsonItem(caKey(t), await createCA(clusterName, t)));
        } catch (e) {
          if (!isCode(e, "already_exists")) throw e; // another replica won the race
          item = await backend.get(caKey(t));
        }
      }
      const stored = parseItem<StoredCA>(item!);
      if (stored.cluster_name !== clusterName)
        // A user's mistake, not a bug: one ERROR line, no "run with --debug" hint.
        throw new UserError(
          `this data directory belongs to cluster "${stored.cluster_name}", not "${clusterName}"; use --cluster-name ${stored.cluster_name} or another data directory`,
        );
      loaded[t] = await load(stored);
    }
    return new Authorities(
      clusterName,
      loaded.host!,
      loaded.user!,
      loaded.db!,
      loaded.db_client!,
      loaded.app!,
      loaded.spiffe!,
    );
  }

  /** The SPIFFE trust domain (spiffe://<this>). */
  get trustDomain(): string {
    return this.spiffe.trustDomain!;
  }

  /** The JWT-SVID signing keys as a JWKS (RFC 7517), as SPIFFE bundles carry them. */
  jwks(): { keys: NonNullable<LoadedCA["jwk"]>[] } {
    return { keys: [this.spiffe.jwk!] };
  }

  caPins(): string[] {
    return [caPinOfCert(this.host.tlsCert)];
  }
}

/** RFC 7638 thumbprint of an EC public key (base64url SHA-256 of {crv, kty, x, y}): the kid. */
async function jwkThumbprint(pub: CryptoKey): Promise<string> {
  const j = (await crypto.subtle.exportKey("jwk", pub)) as webcrypto.JsonWebKey;
  const canonical = JSON.stringify({ crv: j.crv, kty: j.kty, x: j.x, y: j.y });
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonical));
  return Buffer.from(digest).toString("base64url");
}
