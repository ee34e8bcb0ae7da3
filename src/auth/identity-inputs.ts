// What a join or renewal asks to be certified, checked before anything is recorded: the
// public keys must import and the requested expiry must lie ahead. The issuer checks the same
// again when it signs; checking here first means a request refused for its input has moved no
// counter, consumed no token and locked nothing.

import { importPublicKeyPem } from "../crypto/keys.ts";
import { importSshPublicKey } from "../crypto/ssh/index.ts";
import type { PublicKeys } from "../protocol/messages.ts";
import { badParameter } from "../util/errors.ts";

/** `now`: the cluster's clock (svc.clock), which the issuer judges the expiry by too. */
export async function checkIdentityInputs(
  keys: PublicKeys,
  expires: string,
  now = Date.now(),
): Promise<void> {
  const t = Date.parse(expires);
  if (!Number.isFinite(t) || t <= now) throw badParameter("requested expiry must be in the future");
  await importPublicKeyPem(keys.tls_public_key).catch(() => {
    throw badParameter("tls_public_key is not a valid PEM public key (ECDSA P-256 or Ed25519 expected)");
  });
  await importSshPublicKey(keys.ssh_public_key).catch((e: Error) => {
    throw badParameter(`ssh_public_key is not usable: ${e.message}`);
  });
}
