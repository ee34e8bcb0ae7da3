// How join tokens are stored. The key is /tokens/<sha256(name)>; for the `token` method the
// name is the secret, so the stored value carries only its mask (`sha256:<16 hex>`), used or
// not. A caller that looks a token up by its real name gets that name back in metadata.name,
// so the join code reads tokens as if nothing had been hidden.

import { maskSecret } from "../../join/types.ts";
import type { Backend, Item } from "../backend/backend.ts";
import type { TokenResource } from "../resources/index.ts";
import type { StoredToken } from "../service.ts";
import { type StoredForm, sha256Hex } from "./collection.ts";

/** Names of `token`-method tokens are secrets; bound_keypair and tpm token names are not. */
export const isSecretToken = (t: TokenResource) => (t.spec.join_method || "token") === "token";

function withName(v: StoredToken, name: string): StoredToken {
  return { ...v, token: { ...v.token, metadata: { ...v.token.metadata, name } } };
}

export const tokenStoredForm: StoredForm<StoredToken> = {
  store: (name, v) => (isSecretToken(v.token) ? withName(v, maskSecret(sha256Hex(name))) : v),
  load: (v, name) => (name !== undefined && isSecretToken(v.token) ? withName(v, name) : v),
};

/**
 * Databases written before names were kept out of values: replace each clear secret name
 * with its mask (compare-and-swap, so a concurrent join is never overwritten). Returns how
 * many were rewritten.
 */
export async function maskStoredTokenNames(backend: Backend): Promise<number> {
  let n = 0;
  // Page by page: every start runs this, and a fleet may hold many tokens.
  const PAGE = 500;
  let after: string | undefined;
  for (;;) {
    const page = await backend.list("/tokens/", { limit: PAGE, ...(after ? { startAfter: after } : {}) });
    n += await maskPage(backend, page);
    if (page.length < PAGE) return n;
    after = page[PAGE - 1]!.key;
  }
}

async function maskPage(backend: Backend, items: Item[]): Promise<number> {
  let n = 0;
  for (const it of items) {
    const v = JSON.parse(it.value) as StoredToken;
    const hash = it.key.slice("/tokens/".length);
    if (!v?.token?.spec || !isSecretToken(v.token) || v.token.metadata?.name === maskSecret(hash)) continue;
    const masked = withName(v, maskSecret(hash));
    const item = {
      key: it.key,
      value: JSON.stringify(masked),
      ...(it.expires ? { expires: it.expires } : {}),
    };
    await backend.compareAndSwap(it.revision, item).then(
      () => n++,
      () => undefined, // changed meanwhile: whoever changed it wrote through the masking form
    );
  }
  return n;
}
