// The bound keypair client half built from the bot's settings: the registration secret (join
// URI parameter, inline, file, or TBOT_REGISTRATION_SECRET, in that order), the static key,
// and the key store in the bot's storage.

import { readFileSync } from "node:fs";
import { UserError } from "../../util/errors.ts";
import type { JoinMethodClient } from "../client.ts";
import type { JoinClientOptions } from "../descriptor.ts";
import { boundKeypairClient } from "./client.ts";
import type { BoundKeypairOnboarding } from "./onboarding.ts";
import { loadStaticKey, StorageKeyStore } from "./store.ts";

function readSecretFile(path: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch (e) {
    throw new UserError(
      `registration secret file ${path} cannot be read: ${(e as NodeJS.ErrnoException).code ?? e}`,
    );
  }
}

export async function boundKeypairClientFrom(o: JoinClientOptions): Promise<JoinMethodClient> {
  const s = (o.settings ?? {}) as BoundKeypairOnboarding;
  const secret =
    o.uriParameter ??
    s.registrationSecret ??
    (s.registrationSecretPath ? readSecretFile(s.registrationSecretPath) : undefined) ??
    (process.env.TBOT_REGISTRATION_SECRET || undefined);
  const staticKey = await loadStaticKey(s.staticPrivateKeyPath);
  return boundKeypairClient({
    store: new StorageKeyStore(o.storage),
    ...(secret ? { registrationSecret: secret } : {}),
    ...(staticKey ? { staticKey } : {}),
  });
}
