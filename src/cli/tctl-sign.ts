// `tctl auth sign --format=db|app --host=NAME[,NAME2] --out=PREFIX [--ttl=DURATION]`: a server
// certificate, as the reference's PostgreSQL guide makes one for a database:
//   PREFIX.crt  the server certificate (db CA for --format=db, app CA for --format=app)
//   PREFIX.key  its private key (SEC1 PEM, 0600), made here: it never leaves this machine
//   PREFIX.cas  the CA the server trusts for its clients (db_client CA / app CA): ssl_ca_file,
//               nginx ssl_client_certificate

import { chmodSync, writeFileSync } from "node:fs";
import { generateKeyPair, privateKeyPem, publicKeyPem } from "../crypto/keys.ts";
import { UserError } from "../util/errors.ts";
import { admin, list, type TctlCommand } from "./tctl-commands.ts";

interface SignResult {
  cert: string;
  cas: string;
  server_ca: string;
  expires: string;
}

function writeFile(path: string, text: string, mode: number): void {
  try {
    writeFileSync(path, text, { mode });
    chmodSync(path, mode); // an existing file keeps its mode otherwise
  } catch (e) {
    throw new UserError(`cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

export const tctlSignCommands: TctlCommand[] = [
  {
    name: "auth sign",
    async prepare(_args, opts) {
      const format = (opts.format as string | undefined) ?? "";
      if (format !== "db" && format !== "app")
        throw new UserError(`--format must be db or app, got "${format}"`);
      const hosts = list(opts.host);
      if (!hosts.length) throw new UserError("--host is required: the server's DNS names or IP addresses");
      const out = opts.out as string | undefined;
      if (!out)
        throw new UserError("--out is required: the prefix of the files to write (PREFIX.crt, .key, .cas)");
      return { format, hosts, out };
    },
    async run(a) {
      const { format, hosts, out } = a.prepared as { format: string; hosts: string[]; out: string };
      const keys = await generateKeyPair("ecdsa-p256");
      const r = await admin<SignResult>(a.api, "authorities/sign", {
        format,
        hosts,
        public_key: await publicKeyPem(keys.publicKey),
        ttl: a.opts.ttl,
      });
      writeFile(`${out}.key`, await privateKeyPem(keys.privateKey), 0o600);
      writeFile(`${out}.crt`, r.cert, 0o644);
      writeFile(`${out}.cas`, r.cas, 0o644);
      a.out(
        `Wrote ${out}.crt (valid until ${r.expires}), ${out}.key and ${out}.cas (the ${format === "db" ? "db-client" : "app"} CA the server trusts for its clients).\n`,
      );
    },
  },
];
