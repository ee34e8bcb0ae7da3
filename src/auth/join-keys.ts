// Keys for multi-step joins, created on first start and shared by every replica through the
// backend: an HMAC secret that signs join continuations, and the Ed25519 key that signs
// bound-keypair join-state documents (the reference's "BoundKeypair CA").

import { generateKeyPair, importPrivateKeyPem, pkcs8Pem } from "../crypto/keys.ts";
import { isCode } from "../util/errors.ts";
import type { Backend } from "./backend/backend.ts";
import { jsonItem, parseItem } from "./backend/backend.ts";

interface StoredJoinKeys {
  continuation_secret: string;
  join_state_key: string;
}

export interface JoinKeys {
  continuationKey: CryptoKey;
  joinStateKey: CryptoKeyPair;
  /** Key ID written into join-state headers so the key can rotate later. */
  joinStateKid: string;
}

const KEY = "/authorities/join";

export async function loadJoinKeys(backend: Backend): Promise<JoinKeys> {
  let item = await backend.get(KEY);
  if (!item) {
    const pair = await generateKeyPair("ed25519");
    const stored: StoredJoinKeys = {
      continuation_secret: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64"),
      join_state_key: await pkcs8Pem(pair.privateKey),
    };
    try {
      item = await backend.create(jsonItem(KEY, stored));
    } catch (e) {
      if (!isCode(e, "already_exists")) throw e;
      item = await backend.get(KEY);
    }
  }
  const s = parseItem<StoredJoinKeys>(item!);
  const continuationKey = await crypto.subtle.importKey(
    "raw",
    new Uint8Array(Buffer.from(s.continuation_secret, "base64")),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign", "verify"],
  );
  const joinStateKey = await importPrivateKeyPem(s.join_state_key);
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", joinStateKey.publicKey));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", raw));
  return {
    continuationKey,
    joinStateKey,
    joinStateKid: Buffer.from(digest.slice(0, 12)).toString("base64url"),
  };
}
