// How tctl reaches the auth server: address from --auth-server / TELEPORT_AUTH_SERVER, mTLS
// with the identity file from --identity / TELEPORT_IDENTITY_FILE, trusting the host CA
// certificates that the identity file carries.

import { readFileSync } from "node:fs";
import { parseIdentityFile } from "../crypto/identity-file.ts";
import { ApiClient } from "../protocol/client.ts";
import { UserError } from "../util/errors.ts";
import { defaultAuthPort, formatHostPort, requireHostPort } from "../util/host-port.ts";
import type { TctlOptions } from "./tctl.ts";

export const DEFAULT_IDENTITY = "/var/lib/teleport/auth/admin-identity";

export async function connectAdmin(opts: TctlOptions, env = process.env): Promise<ApiClient> {
  const addr = (opts["auth-server"] as string | undefined) ?? env.TELEPORT_AUTH_SERVER ?? "127.0.0.1:3025";
  const hp = requireHostPort(addr, "--auth-server", { defaultPort: defaultAuthPort });
  const path = (opts.identity as string | undefined) ?? env.TELEPORT_IDENTITY_FILE ?? DEFAULT_IDENTITY;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new UserError(
      `cannot read identity file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; pass --identity (tauth writes DATA_DIR/admin-identity)`,
    );
  }
  let id: ReturnType<typeof parseIdentityFile>;
  try {
    id = parseIdentityFile(text);
  } catch (e) {
    throw new UserError(`identity file ${path} is not usable: ${(e as Error).message}`);
  }
  return new ApiClient(formatHostPort(hp), { ca: id.tlsCaPems, cert: id.tlsCertPem, key: id.privateKeyPem });
}
