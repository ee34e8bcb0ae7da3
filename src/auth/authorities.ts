// The cluster's certificate authorities, as the reference has them: host (signs tauth's own
// TLS certificate and SSH host certificates), user (signs bot and admin identities, X.509 and
// SSH), db (signs database servers' certificates: `tctl auth sign --format=db`; clients
// verify databases with it), db_client (signs the database client certificates of `database`
// outputs; databases trust it: ssl_ca_file), app (signs the client certificates of
// `application` outputs and, with `tctl auth sign --format=app`, HTTPS services' own; the
// services trust it: nginx ssl_client_certificate). Each is created once, by whichever replica
// gets there first (backend.create), and kept in the backend; a cluster made before a type
// existed gets it at its next start the same way.

import { generateKeyPair, importPrivateKeyPem, pkcs8Pem } from "../crypto/keys.ts";
import { caPinOfCert } from "../crypto/pin.ts";
import { sshPublicKeyLine } from "../crypto/ssh/index.ts";
import { createCACertificate } from "../crypto/x509.ts";
import { isCode, UserError } from "../util/errors.ts";
import type { Backend } from "./backend/backend.ts";
import { jsonItem, parseItem } from "./backend/backend.ts";

export type CAType = "host" | "user" | "db" | "db_client" | "app";

export const caTypes: CAType[] = ["host", "user", "db", "db_client", "app"];

/** Only host and user sign SSH certificates. */
const hasSsh = (t: CAType) => t === "host" || t === "user";

interface StoredCA {
  type: CAType;
  cluster_name: string;
  tls: { cert: string; key: string };
  ssh?: { public: string; key: string };
}

export interface LoadedCA {
  type: CAType;
  tlsCert: string;
  tlsKey: CryptoKey;
  sshPublic?: string;
  sshKey?: CryptoKey;
}

const caKey = (t: CAType) => `/authorities/${t}`;

async function createCA(clusterName: string, type: CAType): Promise<StoredCA> {
  const tlsKeys = await generateKeyPair("ecdsa-p256");
  const cert = await createCACertificate({ clusterName, type, keys: tlsKeys });
  const ca: StoredCA = {
    type,
    cluster_name: clusterName,
    tls: { cert, key: await pkcs8Pem(tlsKeys.privateKey) },
  };
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
    );
  }

  caPins(): string[] {
    return [caPinOfCert(this.host.tlsCert)];
  }
}
