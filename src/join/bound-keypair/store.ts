// Bound keypair state in the bot's storage, under the reference's names (Appendix A):
// id_bkp / id_bkp.pub (current key), bkp_state (last join state), bkp_key_history.json
// (last 10 keys). All four are written as one atomic set.

import { createPublicKey } from "node:crypto";
import { sshPublicKeyLine } from "../../crypto/ssh/index.ts";
import { UserError } from "../../util/errors.ts";
import type { MethodStorage } from "../descriptor.ts";
import type { BoundKey, BoundKeypairState, BoundKeypairStore } from "./client.ts";

interface HistoryFile {
  entries: { time: string; private_key: string; public_key?: string }[];
}

export class StorageKeyStore implements BoundKeypairStore {
  constructor(private readonly store: MethodStorage) {}

  async load(): Promise<BoundKeypairState> {
    const [pem, pub, st, hist] = await Promise.all(
      ["id_bkp", "id_bkp.pub", "bkp_state", "bkp_key_history.json"].map((n) => this.store.read(n)),
    );
    const state: BoundKeypairState = { history: [] };
    if (pem && pub) state.current = { privateKeyPem: pem, publicKey: pub.trim() };
    if (st) {
      try {
        const j = JSON.parse(st) as { join_state?: string };
        if (j.join_state) state.joinState = j.join_state;
      } catch {}
    }
    if (hist) {
      try {
        for (const e of (JSON.parse(hist) as HistoryFile).entries ?? [])
          state.history.push({
            time: e.time,
            privateKeyPem: e.private_key,
            publicKey: e.public_key ?? (await publicKeyOf(e.private_key)),
          });
      } catch {}
    }
    return state;
  }

  async save(s: BoundKeypairState): Promise<void> {
    const files: Record<string, string> = {
      bkp_state: `${JSON.stringify({ join_state: s.joinState ?? "" })}\n`,
      "bkp_key_history.json": `${JSON.stringify({
        entries: s.history.map((h) => ({
          time: h.time,
          private_key: h.privateKeyPem,
          public_key: h.publicKey,
        })),
      })}\n`,
    };
    if (s.current) {
      files.id_bkp = s.current.privateKeyPem;
      files["id_bkp.pub"] = `${s.current.publicKey}\n`;
    }
    await this.store.writeSet("bkp", files);
  }
}

async function publicKeyOf(pem: string): Promise<string> {
  const spki = createPublicKey(pem).export({ type: "spki", format: "der" });
  const ko = createPublicKey(pem);
  const alg =
    ko.asymmetricKeyType === "ed25519" ? { name: "Ed25519" } : { name: "ECDSA", namedCurve: "P-256" };
  const key = await crypto.subtle.importKey("spki", new Uint8Array(spki), alg, true, ["verify"]);
  return sshPublicKeyLine(key);
}

/** A static key from a file or TBOT_BOUND_KEYPAIR_STATIC_KEY (base64 of the PEM); config wins. */
export async function loadStaticKey(
  path: string | undefined,
  env = process.env,
): Promise<BoundKey | undefined> {
  let pem: string | undefined;
  if (path) {
    try {
      pem = await Bun.file(path).text();
    } catch (e) {
      throw new UserError(
        `static bound keypair key ${path} cannot be read: ${(e as NodeJS.ErrnoException).code ?? e}`,
      );
    }
  } else if (env.TBOT_BOUND_KEYPAIR_STATIC_KEY) {
    pem = Buffer.from(env.TBOT_BOUND_KEYPAIR_STATIC_KEY, "base64").toString("utf8");
  }
  if (!pem) return undefined;
  try {
    return { privateKeyPem: pem, publicKey: await publicKeyOf(pem) };
  } catch (e) {
    throw new UserError(`static bound keypair key is not a usable private key: ${(e as Error).message}`);
  }
}
