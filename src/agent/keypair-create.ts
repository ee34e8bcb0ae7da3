// `tbot keypair create` (reference §5.9): make the bound-keypair key before the first join,
// so an operator can paste its public key into the token's initial_public_key. With --static,
// a key that lives outside the bot's storage and never rotates (insecure recovery mode).

import { chmodSync, writeFileSync } from "node:fs";
import { newBoundKey, withHistory } from "../join/bound-keypair/client.ts";
import { StorageKeyStore } from "../join/bound-keypair/store.ts";
import { UserError } from "../util/errors.ts";
import { type BotConfig, type Destination, defaultConfig } from "./config/index.ts";
import { firstContact } from "./connect.ts";
import { openStore } from "./storage/open.ts";

export interface KeypairCreateOptions {
  storage: Destination;
  proxyServer?: string;
  authServer?: string;
  caPins: string[];
  insecure: boolean;
  overwrite: boolean;
  format: "text" | "json";
  static: boolean;
  staticKeyPath?: string;
}

/** Learn the cluster's signature suite, over a verified connection like any first contact. */
async function clusterSuite(o: KeypairCreateOptions): Promise<string> {
  if (!o.proxyServer && !o.authServer)
    throw new UserError(
      "--proxy-server (or --auth-server) is required: it tells which key algorithm the cluster uses",
    );
  const cfg: BotConfig = { ...defaultConfig(), insecure: o.insecure };
  if (o.proxyServer) cfg.proxyServer = o.proxyServer;
  else cfg.authServer = o.authServer;
  cfg.onboarding = { ...cfg.onboarding, caPins: o.caPins };
  const { ping } = await firstContact(cfg);
  if (ping.signature_algorithm_suite !== "balanced-v1" && ping.signature_algorithm_suite !== "legacy")
    throw new UserError(
      `the cluster uses signature suite "${ping.signature_algorithm_suite}", which this tbot does not know`,
    );
  return ping.signature_algorithm_suite;
}

export async function keypairCreate(o: KeypairCreateOptions): Promise<string> {
  await clusterSuite(o);
  if (o.static) return staticKey(o);
  const store = openStore(o.storage, "storage");
  await store.init();
  const release = await store.lock();
  try {
    const keys = new StorageKeyStore(store);
    const state = await keys.load();
    let publicKey = state.current?.publicKey;
    if (!publicKey || o.overwrite) {
      const key = await newBoundKey();
      await keys.save({ ...withHistory(state, key), current: key, joinState: undefined });
      publicKey = key.publicKey;
    }
    if (o.format === "json") return `${JSON.stringify({ public_key: publicKey }, null, 2)}\n`;
    return `To register the keypair with Teleport, include this public key in the token's\n\`spec.bound_keypair.onboarding.initial_public_key\`:\n\n\t${publicKey}\n`;
  } finally {
    release();
  }
}

async function staticKey(o: KeypairCreateOptions): Promise<string> {
  const key = await newBoundKey();
  const b64 = Buffer.from(key.privateKeyPem).toString("base64");
  if (o.staticKeyPath) {
    writeFileSync(o.staticKeyPath, key.privateKeyPem, { mode: 0o600, flag: o.overwrite ? "w" : "wx" });
    chmodSync(o.staticKeyPath, 0o600);
  }
  if (o.format === "json")
    return `${JSON.stringify({ public_key: key.publicKey, private_key: b64, ...(o.staticKeyPath ? { path: o.staticKeyPath } : {}) }, null, 2)}\n`;
  return `A static key never rotates and is not kept in the bot's storage, so the token must use the
insecure recovery mode. An example token:

kind: token
version: v2
metadata:
  name: example
spec:
  roles: [Bot]
  bot_name: example
  join_method: bound_keypair
  bound_keypair:
    onboarding:
      initial_public_key: "${key.publicKey}"
    recovery:
      mode: insecure
      limit: 0

${o.staticKeyPath ? `The private key was written to ${o.staticKeyPath}; set onboarding.bound_keypair.static_private_key_path to it, or` : "Give the private key to tbot with"}:

export TBOT_BOUND_KEYPAIR_STATIC_KEY=${b64}
`;
}
